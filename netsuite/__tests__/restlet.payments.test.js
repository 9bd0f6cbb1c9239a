// GET ?action=payments: the listing of NetSuite payments for the way back to Lago (contract 2).
const { install } = require('./support/fakeNetSuite');

const LAGO_INVOICE = (id, n) => ({ type: 'invoice', id, externalId: `lago-invoice-${n}`, fields: { entity: '100', custbody_lago_id: `lago-${n}` } });
const applied = (...rows) => ({ apply: rows.map(([doc, amount]) => ({ doc, apply: true, amount })) });
const payment = (id, rows, extra = {}) => ({
    type: 'customerpayment', id, externalId: undefined,
    fields: { customer: '100', currency: '1', trandate: new Date(2025, 2, 4), tranid: `PYMT-${id}` },
    sublists: applied(...rows), ...extra,
});

function account({ pageSize, records = [] } = {}) {
    return install({
        parameters: pageSize ? { custscript_lago_payments_page: pageSize } : {},
        records: [
            { type: 'customer', id: '100', externalId: 'lago-customer-c1' },
            LAGO_INVOICE('700', 'a'), LAGO_INVOICE('701', 'b'),
            { type: 'invoice', id: '702', externalId: undefined, fields: { entity: '100' } }, // keyed in NetSuite: no Lago id
            ...records,
        ],
    });
}

const list = (fake, query = {}) => fake.get({ action: 'payments', since: '2000-01-01T00:00:00Z', cursor: '', ...query });

function pages(fake, onPage = () => {}) {
    const seen = [];
    let cursor = '';
    for (let n = 0; n < 20; n += 1) {
        const { status, body } = list(fake, { cursor });
        expect(status).toBe(200);
        seen.push(body.payments.map((p) => p.id));
        onPage(n, body);
        if (body.next === null) {
            return seen;
        }
        cursor = body.next;
    }
    throw new Error('the listing never ended');
}

test('a payment lists with its applications to invoices that carry a Lago id only', () => {
    const fake = account({ records: [payment('900', [['700', 40], ['702', 5], ['701', 12.5]])] });

    const { status, body } = list(fake);

    expect(status).toBe(200);
    expect(body).toEqual({
        payments: [{
            id: '900', type: 'customerpayment', tranid: 'PYMT-900', trandate: '3/4/2025', currency: '1',
            lastModified: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/), voided: false, externalId: null,
            applications: [
                { doc: '700', docExternalId: 'lago-invoice-a', amount: 40 },
                { doc: '701', docExternalId: 'lago-invoice-b', amount: 12.5 },
            ],
        }],
        next: null,
    });
});

test('payments on invoices without a Lago id, and payments changed before since, are not listed', () => {
    const fake = account({ records: [payment('900', [['702', 5]]), payment('901', [['700', 1]], { lastModified: '2025-01-01T00:00:00Z' })] });
    expect(list(fake).body.payments.map((p) => p.id)).toEqual(['901']);
    expect(list(fake, { since: '2025-06-01T00:00:00Z' }).body).toEqual({ payments: [], next: null });
});

test('a payment the sync created from Lago carries its lago- externalId; a voided one says so', () => {
    const fake = account({ records: [payment('900', [['700', 40]], { externalId: 'lago-payment-p1' }), payment('901', [['701', 3]])] });
    fake.modify('901', { voided: true });
    const listed = list(fake).body.payments;
    expect(listed.map((p) => [p.id, p.externalId, p.voided])).toEqual([['900', 'lago-payment-p1', false], ['901', null, true]]);
});

test('pages end exactly at the page size: every payment once, oldest change first, then next is null', () => {
    const records = ['900', '901', '902', '903'].map((id) => payment(id, [['700', 1]]));
    const fake = account({ pageSize: 2, records });
    expect(pages(fake)).toEqual([['900', '901'], ['902', '903']]); // no empty last page
    // one more than the page is a page boundary too
    const five = account({ pageSize: 2, records: [...records, payment('904', [['701', 1]])] });
    expect(pages(five)).toEqual([['900', '901'], ['902', '903'], ['904']]);
});

test('payments changed at the same second are ordered by id and the cursor splits them', () => {
    const same = '2025-03-04T10:22:31Z';
    const fake = account({ pageSize: 2, records: ['905', '903', '904'].map((id) => payment(id, [['700', 1]], { lastModified: same })) });
    expect(pages(fake)).toEqual([['903', '904'], ['905']]);
});

test('a payment changed while paging is listed again after the cursor, never lost', () => {
    const fake = account({ pageSize: 2, records: ['900', '901', '902', '903'].map((id) => payment(id, [['700', 1]])) });
    const seen = pages(fake, (n) => {
        if (n === 0) {
            fake.modify('900', { voided: true }); // already listed: comes again with its change
            fake.modify('902', {}); // not listed yet: moves behind 903, still listed once
        }
    });
    expect(seen).toEqual([['900', '901'], ['903', '900'], ['902']]);
});

test('each page costs two SuiteQL queries, whatever its size', () => {
    const fake = account({ records: Array.from({ length: 150 }, (_, i) => payment(String(1000 + i), [['700', 1]])) });
    const { body } = list(fake);
    expect(body.payments).toHaveLength(150);
    expect(fake.apiCalls.filter((call) => call === 'query.runSuiteQL')).toHaveLength(2);
    expect(fake.remainingUsage()).toBe(5000 - 20);
});

test('a malformed since or cursor answers 400 INVALID_REQUEST', () => {
    const fake = account();
    expect(list(fake, { since: 'yesterday' })).toEqual({ status: 400, body: { error: { code: 'INVALID_REQUEST', message: expect.stringMatching(/since/) } } });
    expect(list(fake, { cursor: 'not-a-cursor' }).status).toBe(400);
});
