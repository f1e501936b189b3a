import { describe, expect, it } from 'vitest';
import { assign, setup } from 'xstate';
import { assertFullCoverage, formatCoverage, pathTests, type PathStep } from 'taskmachine/testing';

// 1. The model: a card payment that locks after the third decline.
const paymentMachine = setup({
  types: {
    context: {} as { declines: number },
    events: {} as { type: 'PAY'; amount: number } | { type: 'APPROVE' } | { type: 'DECLINE' } | { type: 'REFUND' },
  },
  guards: {
    positiveAmount: ({ event }) => event.type === 'PAY' && event.amount > 0,
    mayRetry: ({ context }) => context.declines < 2,
  },
}).createMachine({
  id: 'payment',
  initial: 'idle',
  context: () => ({ declines: 0 }),
  states: {
    idle: { on: { PAY: { guard: 'positiveAmount', target: 'pending' } } },
    pending: {
      on: {
        APPROVE: 'paid',
        DECLINE: [
          { guard: 'mayRetry', target: 'idle', actions: assign({ declines: ({ context }) => context.declines + 1 }) },
          { target: 'locked' },
        ],
      },
    },
    paid: { on: { REFUND: 'refunded' } },
    refunded: {},
    locked: {},
  },
});

// 2. The system under test: your implementation (a class here; a service or an API in real life).
class Checkout {
  status: 'idle' | 'pending' | 'paid' | 'refunded' | 'locked' = 'idle';
  declines = 0;
  pay(amount: number) {
    if (this.status === 'idle' && amount > 0) this.status = 'pending';
  }
  approve() {
    if (this.status === 'pending') this.status = 'paid';
  }
  decline() {
    if (this.status !== 'pending') return;
    if (this.declines < 2) {
      this.declines += 1;
      this.status = 'idle';
    } else {
      this.status = 'locked';
    }
  }
  refund() {
    if (this.status === 'paid') this.status = 'refunded';
  }
}

// 3. The cases: one per edge of the machine and one per simple path through its graph.
const suite = pathTests(paymentMachine, {
  events: [{ type: 'PAY', amount: 10 }, { type: 'PAY', amount: 0 }, { type: 'APPROVE' }, { type: 'DECLINE' }, { type: 'REFUND' }],
});

/** Applies each step's event to a fresh Checkout and checks it matches the machine. */
function drive(checkout: Checkout) {
  return (step: PathStep<typeof paymentMachine>) => {
    const { event } = step;
    if (event.type === 'PAY') checkout.pay(event.amount);
    if (event.type === 'APPROVE') checkout.approve();
    if (event.type === 'DECLINE') checkout.decline();
    if (event.type === 'REFUND') checkout.refund();
    expect(checkout.status).toBe(step.after.value);
    expect(checkout.declines).toBe(step.after.context.declines);
  };
}

describe('Checkout follows paymentMachine', () => {
  describe('edges', () => {
    for (const edgeCase of suite.edges) it(edgeCase.name, () => edgeCase.run(drive(new Checkout())));
  });
  describe('paths', () => {
    for (const path of suite.paths) it(path.name, () => path.run(drive(new Checkout())));
  });
  it('reaches every state and takes every edge', () => {
    console.log(formatCoverage(suite)); // payment: 5/5 states, 5/5 edges
    assertFullCoverage(suite);
  });
});
