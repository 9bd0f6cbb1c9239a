// Governance: what each record costs, and the guard that defers the tail of a batch before the
// call runs out of usage units or time.
const { install } = require('./support/fakeNetSuite');
const { ACCOUNT, customer, invoice, payment } = require('./support/documents');

const invoices = (count, from = 1) => Array.from({ length: count }, (unused, n) => invoice(from + n));
const statuses = (response) => response.body.results.map((entry) => entry.status);

describe('usage units, as NetSuite charges them', () => {
    const seeded = {
        ...ACCOUNT,
        records: [
            ...ACCOUNT.records,
            { type: 'invoice', id: '700', externalId: 'lago-invoice-old' },
            { type: 'invoice', id: '701', externalId: 'lago-invoice-voided', voided: true },
        ],
    };

    test.each([
        ['a created transaction: search + create + save', 40, [invoice(1)]],
        ['a created customer: search + create + save', 25, [customer(1)]],
        ['a created payment', 40, [payment(1, [['700', 10]])]],
        ['an existing record: the search only', 10, [{ ...invoice(1), externalId: 'lago-invoice-old' }]],
        ['a void: search + void', 20, [{ externalId: 'lago-invoice-old', action: 'void', type: 'invoice' }]],
        ['a record already voided: the search only', 10, [{ externalId: 'lago-invoice-voided', action: 'void', type: 'invoice' }]],
        ['a record refused before the lookup: nothing', 0, [{ ...invoice(1), type: 'estimate' }]],
        ['a record NetSuite refuses on save: every call made', 40, [{ ...invoice(1), columns: { ...invoice(1).columns, entity: '999' } }]],
    ])('%s: %i units', (label, units, records) => {
        const fake = install(seeded);
        fake.post({ records });
        expect(fake.used).toBe(units);
    });
});

describe('the usage guard', () => {
    test('defers the record that would start below the reserve, and every later one', () => {
        // 150 units, reserve 100: two invoices (40 each) leave 70, so the third and fourth wait.
        const fake = install({ ...ACCOUNT, usageLimit: 150 });

        const response = fake.post({ records: invoices(4) });

        expect(statuses(response)).toEqual(['created', 'created', 'deferred', 'deferred']);
        expect(response.body.results[2]).toEqual({
            externalId: invoice(3).externalId,
            status: 'deferred',
            id: null,
            error: { code: 'SSS_USAGE_LIMIT_EXCEEDED', message: expect.stringContaining('70 usage units left') },
        });
        expect(fake.all('invoice')).toHaveLength(2);
        expect(fake.remainingUsage()).toBe(70);
    });

    test('once deferred, a cheap record later in the batch is deferred too', () => {
        const fake = install({ ...ACCOUNT, usageLimit: 150 });
        const response = fake.post({ records: [...invoices(3), { ...invoice(9), type: 'estimate' }] });
        expect(statuses(response)).toEqual(['created', 'created', 'deferred', 'deferred']);
    });

    test('the deferred tail is written when it is sent again in a later call', () => {
        const fake = install({ ...ACCOUNT, usageLimit: 150 });
        fake.post({ records: invoices(4) });

        const later = fake.post({ records: invoices(2, 3) });

        expect(statuses(later)).toEqual(['created', 'created']);
        expect(fake.all('invoice')).toHaveLength(4);
    });

    test('a call with the default 5,000 units writes 123 invoices and defers the rest', () => {
        const fake = install({ ...ACCOUNT, usageLimit: 5000 });

        const response = fake.post({ records: invoices(130) });

        const counts = statuses(response).reduce((acc, status) => ({ ...acc, [status]: (acc[status] || 0) + 1 }), {});
        expect(counts).toEqual({ created: 123, deferred: 7 });
        expect(fake.remainingUsage()).toBe(5000 - 123 * 40);
    });

    test('the reserve is the script parameter custscript_lago_usage_reserve', () => {
        // 300 units, reserve 200: 300, 260 and 220 are enough; 180 is not.
        const fake = install({ ...ACCOUNT, usageLimit: 300, parameters: { custscript_lago_usage_reserve: 200 } });
        expect(statuses(fake.post({ records: invoices(4) }))).toEqual(['created', 'created', 'created', 'deferred']);
    });

    test.each([[''], ['-5'], ['lots'], [null]])('a reserve parameter of %p falls back to 100', (value) => {
        const fake = install({ ...ACCOUNT, usageLimit: 150, parameters: { custscript_lago_usage_reserve: value } });
        expect(statuses(fake.post({ records: invoices(3) }))).toEqual(['created', 'created', 'deferred']);
    });
});

describe('the time guard', () => {
    test('defers the records left once the time budget (default 90 s) is spent', () => {
        const fake = install({ ...ACCOUNT, latencyMs: { save: 40000 } });

        const response = fake.post({ records: invoices(4) });

        // Saves end at 40 s, 80 s and 120 s: the fourth record starts after the budget.
        expect(statuses(response)).toEqual(['created', 'created', 'created', 'deferred']);
        expect(response.body.results[3].error).toEqual({
            code: 'SSS_USAGE_LIMIT_EXCEEDED', message: expect.stringContaining('120 s spent of a 90 s budget'),
        });
    });

    test('the budget is the script parameter custscript_lago_time_budget_s', () => {
        const fake = install({ ...ACCOUNT, latencyMs: { save: 40000 }, parameters: { custscript_lago_time_budget_s: '60' } });
        expect(statuses(fake.post({ records: invoices(3) }))).toEqual(['created', 'created', 'deferred']);
    });
});
