import { shellWord } from '../shellWord.ts';
import { storeHint } from './storeOption.ts';

export { shellWord };

/** ` --store <path>` when the store is not the default one (so a printed command finds the run). */
export function storeArgument(storeOption: string | undefined): string {
  const store = storeOption === undefined ? undefined : storeHint(storeOption).store;
  return store === undefined ? '' : ` --store ${shellWord(store)}`;
}

export { continueCommand } from '../operate/continueCommand.ts';
