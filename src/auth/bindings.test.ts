import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ANY, formatBinding, mayGrant, parseBinding, ROLES, roleFor, type RoleBinding } from './bindings.js';

const binding = (text: string): RoleBinding => parseBinding(text);

describe('role bindings', () => {
  it('parses the three shapes and refuses the rest with the expected form', () => {
    expect(binding('admin')).toEqual({ role: 'admin', app: ANY, environment: ANY });
    expect(binding('operator:orders')).toEqual({ role: 'operator', app: 'orders', environment: ANY });
    expect(binding('operator:orders/staging')).toEqual({ role: 'operator', app: 'orders', environment: 'staging' });
    expect(binding('viewer:*/production')).toEqual({ role: 'viewer', app: ANY, environment: 'production' });
    expect(() => binding('owner')).toThrow(/--role "owner": unknown role "owner"; expected <role>\[:<app>\[\/<environment>\]\]/);
    expect(() => binding('admin:orders/staging/x')).toThrow(/"staging\/x" is not an environment name/);
    expect(() => binding('admin:')).toThrow(/expected <role>/);
    expect(() => binding('')).toThrow(/expected <role>/);
  });

  it('gives the highest matching role, and none outside the bindings', () => {
    const bindings = [binding('viewer'), binding('operator:orders/staging'), binding('approver:orders/production')];
    expect(roleFor(bindings, 'orders', 'staging')).toBe('operator');
    expect(roleFor(bindings, 'orders', 'production')).toBe('approver');
    expect(roleFor(bindings, 'billing', 'staging')).toBe('viewer');
    expect(roleFor([binding('admin:orders')], 'billing', 'staging')).toBeUndefined();
  });

  it('lets only an admin whose scope contains it grant a binding', () => {
    const scopedAdmin = [binding('admin:orders/staging'), binding('operator')];
    expect(mayGrant(scopedAdmin, binding('viewer:orders/staging'))).toBe(true);
    expect(mayGrant(scopedAdmin, binding('viewer:orders/production'))).toBe(false);
    expect(mayGrant(scopedAdmin, binding('viewer:orders'))).toBe(false); // every environment is wider than staging
    expect(mayGrant(scopedAdmin, binding('viewer'))).toBe(false);
    expect(mayGrant([binding('admin')], binding('admin'))).toBe(true);
    expect(mayGrant([binding('operator')], binding('viewer:orders/staging'))).toBe(false);
  });

  it('round-trips through its text form, and a grant never yields more than its granter holds (property)', () => {
    const name = fc.constantFrom(ANY, 'orders', 'billing');
    const arbitraryBinding = fc.record({ role: fc.constantFrom(...ROLES), app: name, environment: name });
    fc.assert(
      fc.property(fc.array(arbitraryBinding, { maxLength: 5 }), arbitraryBinding, fc.constantFrom('orders', 'billing'), fc.constantFrom('staging', 'production'), (holder, wanted, app, environment) => {
        expect(parseBinding(formatBinding(wanted))).toEqual(wanted);
        if (mayGrant(holder, wanted) && roleFor([wanted], app, environment) !== undefined) {
          // wherever the granted binding applies, the granter is admin there
          expect(roleFor(holder, app, environment)).toBe('admin');
        }
      }),
      { seed: 11, numRuns: 500 },
    );
  });
});
