// Request-level answers (HTTP 400 INVALID_REQUEST) and GET look-ups.
const { install } = require('./support/fakeNetSuite');
const { ACCOUNT, customer, invoice } = require('./support/documents');

const invalidRequest = { status: 400, body: { error: { code: 'INVALID_REQUEST', message: expect.any(String) } } };

describe('POST', () => {
    test.each([
        ['a body that is not JSON', 'records: [1, 2'],
        ['no body', null],
        ['a JSON array', [invoice(1)]],
        ['no records array', { record: [invoice(1)] }],
        ['records that is not an array', { records: { 0: invoice(1) } }],
        ['more than 500 records', { records: Array.from({ length: 501 }, (unused, n) => ({ externalId: `lago-x-${n}`, type: 'x' })) }],
    ])('with %s answers 400 INVALID_REQUEST and writes nothing', (label, body) => {
        const fake = install(ACCOUNT);
        expect(fake.post(body)).toEqual(invalidRequest);
        expect(fake.apiCalls).toEqual([]);
    });

    test('500 records are accepted', () => {
        const fake = install(ACCOUNT);
        const records = Array.from({ length: 500 }, (unused, n) => ({ externalId: `lago-x-${n}`, type: 'x' }));
        const response = fake.post({ records });
        expect(response.status).toBe(200);
        expect(response.body.results).toHaveLength(500);
    });

    test('a body sent as JSON text is parsed', () => {
        const fake = install(ACCOUNT);
        const response = fake.post(JSON.stringify({ records: [customer(1)] }));
        expect(response.body.results[0].status).toBe('created');
    });

    test('an empty batch answers an empty result list', () => {
        const fake = install(ACCOUNT);
        expect(fake.post({ records: [] })).toEqual({ status: 200, body: { results: [] } });
    });
});

describe('GET', () => {
    const seeded = {
        ...ACCOUNT,
        records: [
            ...ACCOUNT.records,
            { type: 'invoice', id: '900', externalId: 'lago-invoice-a' },
            { type: 'invoice', id: '901', externalId: 'lago-invoice-c', voided: true },
            { type: 'creditmemo', id: '902', externalId: 'lago-invoice-b' },
        ],
    };

    test('answers existing or missing for each id, in request order', () => {
        const fake = install(seeded);

        const response = fake.get({ type: 'invoice', externalIds: 'lago-invoice-b,lago-invoice-a,lago-invoice-c' });

        expect(response).toEqual({
            status: 200,
            body: {
                results: [
                    { externalId: 'lago-invoice-b', status: 'missing', id: null },
                    { externalId: 'lago-invoice-a', status: 'existing', id: '900' },
                    { externalId: 'lago-invoice-c', status: 'existing', id: '901' },
                ],
            },
        });
    });

    test('trims spaces, skips empty entries and answers a repeated id each time', () => {
        const fake = install(seeded);
        const { results } = fake.get({ type: 'invoice', externalIds: ' lago-invoice-a, ,lago-invoice-a,' }).body;
        expect(results).toEqual([
            { externalId: 'lago-invoice-a', status: 'existing', id: '900' },
            { externalId: 'lago-invoice-a', status: 'existing', id: '900' },
        ]);
    });

    test('finds customers, and records the POST just created', () => {
        const fake = install(ACCOUNT);
        const created = fake.post({ records: [customer(3)] }).body.results[0];
        const { results } = fake.get({ type: 'customer', externalIds: `${ACCOUNT.records[0].externalId},${created.externalId}` }).body;
        expect(results.map((entry) => entry.id)).toEqual(['100', created.id]);
    });

    test('looks 100 ids up with one search (10 units)', () => {
        const fake = install(seeded);
        const ids = Array.from({ length: 100 }, (unused, n) => `lago-invoice-${n}`);
        const response = fake.get({ type: 'invoice', externalIds: ids.join(',') });
        expect(response.body.results).toHaveLength(100);
        expect(fake.apiCalls).toEqual(['search(invoice)']);
        expect(fake.used).toBe(10);
    });

    test.each([
        ['no type', { externalIds: 'lago-invoice-a' }],
        ['an unknown type', { type: 'vendorbill', externalIds: 'lago-invoice-a' }],
        ['no externalIds', { type: 'invoice' }],
        ['empty externalIds', { type: 'invoice', externalIds: ' , ' }],
        ['more than 100 ids', { type: 'invoice', externalIds: Array.from({ length: 101 }, (unused, n) => `id-${n}`).join(',') }],
    ])('with %s answers 400 INVALID_REQUEST', (label, query) => {
        const fake = install(seeded);
        expect(fake.get(query)).toEqual(invalidRequest);
        expect(fake.apiCalls).toEqual([]);
    });
});
