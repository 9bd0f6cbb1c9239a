// The shared contract cases (tests/fixtures/netsuite/contract_cases.json, format in its README):
// the same requests and expected answers pytest runs against the Python NetSuite sandbox, run
// here against the RESTlet on the in-memory account.
const fs = require('fs');
const path = require('path');
const { install } = require('./support/fakeNetSuite');

const FIXTURE = path.join(__dirname, '..', '..', 'tests', 'fixtures', 'netsuite', 'contract_cases.json');
const { contract, cases } = JSON.parse(fs.readFileSync(FIXTURE, 'utf8'));

/**
 * Where `actual` differs from `expected` (a path and a reason), or null when it matches.
 * "$any" matches any present value, "$capture:name" any non-empty string (remembered),
 * "$ref:name" the remembered value; objects match on the expected keys, arrays element-wise.
 */
function mismatch(expected, actual, captures, where = 'body') {
    if (typeof expected === 'string' && expected.startsWith('$')) {
        if (expected === '$any') {
            return actual === undefined ? `${where}: missing` : null;
        }
        if (expected.startsWith('$capture:')) {
            if (typeof actual !== 'string' || actual === '') {
                return `${where}: expected a non-empty string to capture, got ${JSON.stringify(actual)}`;
            }
            captures[expected.slice('$capture:'.length)] = actual;
            return null;
        }
        if (expected.startsWith('$ref:')) {
            const name = expected.slice('$ref:'.length);
            if (!(name in captures)) {
                return `${where}: nothing captured as ${name} yet`;
            }
            return actual === captures[name] ? null : `${where}: expected ${JSON.stringify(captures[name])} (${name}), got ${JSON.stringify(actual)}`;
        }
    }
    if (Array.isArray(expected)) {
        if (!Array.isArray(actual) || actual.length !== expected.length) {
            return `${where}: expected ${expected.length} entries, got ${JSON.stringify(actual)}`;
        }
        for (let i = 0; i < expected.length; i += 1) {
            const found = mismatch(expected[i], actual[i], captures, `${where}[${i}]`);
            if (found) {
                return found;
            }
        }
        return null;
    }
    if (expected !== null && typeof expected === 'object') {
        if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) {
            return `${where}: expected an object, got ${JSON.stringify(actual)}`;
        }
        for (const key of Object.keys(expected)) {
            if (!(key in actual)) {
                return `${where}.${key}: missing`;
            }
            const found = mismatch(expected[key], actual[key], captures, `${where}.${key}`);
            if (found) {
                return found;
            }
        }
        return null;
    }
    return expected === actual ? null : `${where}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`;
}

/** A request with every "$ref:name" string replaced by the value captured as `name`. */
function substitute(value, captures) {
    if (typeof value === 'string' && value.startsWith('$ref:')) {
        return captures[value.slice('$ref:'.length)];
    }
    if (Array.isArray(value)) {
        return value.map((entry) => substitute(entry, captures));
    }
    if (value !== null && typeof value === 'object') {
        return Object.fromEntries(Object.entries(value).map(([key, entry]) => [key, substitute(entry, captures)]));
    }
    return value;
}

test('the fixture is for contract 2 and has the cases both sides run', () => {
    expect(contract).toBe(2);
    expect(cases.length).toBeGreaterThanOrEqual(12);
    expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
});

describe.each(cases.map((c) => [c.name, c]))('contract case: %s', (name, contractCase) => {
    test('every step answers as expected', () => {
        const { setup } = contractCase;
        const fake = install({
            usageLimit: setup.usageLimit,
            records: setup.records || [],
            items: setup.items,
            currencies: setup.currencies,
            subsidiaries: setup.subsidiaries,
            requiredFields: setup.requiredFields,
        });
        const captures = {};
        contractCase.steps.forEach((step, index) => {
            const request = substitute(step.request, captures);
            const response = request.method === 'GET' ? fake.get(request.query || {}) : fake.post(request.body);
            const found = response.status === step.expect.status
                ? mismatch(step.expect.body, response.body, captures)
                : `status: expected ${step.expect.status}, got ${response.status}`;
            if (found) {
                throw new Error(`step ${index} (${request.method}): ${found}\nresponse: ${JSON.stringify(response)}`);
            }
        });
    });
});

describe('the matcher', () => {
    test('ties captured ids to later references and tells where a body differs', () => {
        const captures = {};
        expect(mismatch({ id: '$capture:a', error: null }, { id: '12', error: null, extra: 1 }, captures)).toBeNull();
        expect(mismatch({ id: '$ref:a' }, { id: '12' }, captures)).toBeNull();
        expect(mismatch({ id: '$ref:a' }, { id: '13' }, captures)).toMatch(/body\.id: expected "12"/);
        expect(mismatch({ id: '$capture:b' }, { id: null }, captures)).toMatch(/non-empty string/);
        expect(mismatch({ error: '$any' }, {}, captures)).toBe('body.error: missing');
        expect(mismatch([1, 2], [1], captures)).toMatch(/expected 2 entries/);
        expect(mismatch({ error: null }, { error: { code: 'X' } }, captures)).toMatch(/body\.error: expected null/);
    });
});
