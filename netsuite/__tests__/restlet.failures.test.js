// Records NetSuite refuses, or that are malformed, answer `failed` with a plain {code, message};
// the rest of the batch goes on.
const record = require('N/record');
const { install, suiteScriptError } = require('./support/fakeNetSuite');
const { ACCOUNT, creditMemo, customer, invoice, payment } = require('./support/documents');

function resultsOf(fake, records) {
    const response = fake.post({ records });
    expect(response.status).toBe(200);
    return response.body.results;
}

describe('NetSuite refuses a record', () => {
    test('the result carries NetSuite\'s code and message and the next record is still written', () => {
        const fake = install(ACCOUNT);
        fake.failNextSave('RCRD_HAS_BEEN_CHANGED', 'Record has been changed');

        const results = resultsOf(fake, [invoice(1), invoice(2)]);

        expect(results[0]).toEqual({
            externalId: invoice(1).externalId,
            status: 'failed',
            id: null,
            error: { code: 'RCRD_HAS_BEEN_CHANGED', message: 'Record has been changed' },
        });
        expect(results[1].status).toBe('created');
        expect(fake.all('invoice')).toHaveLength(1);
    });

    test.each([
        ['entity', (body) => { body.columns.entity = '999'; }, 'Invalid entity reference key 999.'],
        ['item', (body) => { body.lines[0].lineItems[1].item = '299'; }, 'Invalid item reference key 299.'],
        ['currency', (body) => { body.columns.currency = '9'; }, 'Invalid currency reference key 9.'],
        ['subsidiary', (body) => { body.columns.subsidiary = '7'; }, 'Invalid subsidiary reference key 7.'],
    ])('an unknown %s fails with INVALID_KEY_OR_REF', (field, spoil, message) => {
        const fake = install(ACCOUNT);
        const body = invoice(1);
        spoil(body);
        expect(resultsOf(fake, [body])[0]).toEqual({
            externalId: body.externalId, status: 'failed', id: null, error: { code: 'INVALID_KEY_OR_REF', message },
        });
    });

    test('a customer with an unknown subsidiary fails with INVALID_KEY_OR_REF', () => {
        const fake = install(ACCOUNT);
        const [result] = resultsOf(fake, [customer(1, { subsidiary: '7' })]);
        expect(result.error).toEqual({ code: 'INVALID_KEY_OR_REF', message: 'Invalid subsidiary reference key 7.' });
    });

    test('a payment for an unknown customer fails on its customer field', () => {
        const fake = install(ACCOUNT);
        const [result] = resultsOf(fake, [payment(1, [['700', 10]], { customer: '999' })]);
        expect(result.error).toEqual({ code: 'INVALID_KEY_OR_REF', message: 'Invalid customer reference key 999.' });
    });

    test.each([
        ['an invoice without a customer', () => { const body = invoice(1); delete body.columns.entity; return body; }, 'entity'],
        ['a line without an item', () => { const body = invoice(1); delete body.lines[0].lineItems[0].item; return body; }, 'item'],
    ])('%s fails with USER_ERROR', (label, build, field) => {
        const fake = install(ACCOUNT);
        const [result] = resultsOf(fake, [build()]);
        expect(result.error).toEqual({ code: 'USER_ERROR', message: `Please enter value(s) for: ${field}.` });
    });

    test('a credit memo applied to an unknown invoice fails with INVALID_KEY_OR_REF on doc', () => {
        const fake = install(ACCOUNT);
        const [result] = resultsOf(fake, [creditMemo(1, '4242')]);
        expect(result.error).toEqual({ code: 'INVALID_KEY_OR_REF', message: 'Invalid doc reference key 4242.' });
        expect(fake.all('creditmemo')).toHaveLength(0);
    });

    test('a document whose total is negative fails with USER_ERROR', () => {
        const fake = install(ACCOUNT);
        const body = invoice(1);
        body.lines[0].lineItems[2] = { ...body.lines[0].lineItems[2], rate: -100, amount: -100 };
        body.taxdetails[0].lineItems[2] = { ...body.taxdetails[0].lineItems[2], taxbasis: -100, taxamount: -20 };
        const [result] = resultsOf(fake, [body]);
        expect(result.error).toEqual({ code: 'USER_ERROR', message: 'total can not be negative' });
    });

    test('an error that is not a SuiteScriptError answers UNEXPECTED_ERROR with its message as text', () => {
        const fake = install(ACCOUNT);
        record.create.mockImplementationOnce(() => {
            throw new TypeError('Cannot read properties of undefined');
        });
        const [result] = resultsOf(fake, [invoice(1)]);
        expect(result.error).toEqual({ code: 'UNEXPECTED_ERROR', message: 'Cannot read properties of undefined' });
    });

    test('an error NetSuite raises in the lookup fails only that record', () => {
        const fake = install(ACCOUNT);
        const search = require('N/search');
        search.create.mockImplementationOnce(() => {
            throw suiteScriptError('SSS_REQUEST_LIMIT_EXCEEDED', 'Request limit exceeded.');
        });
        const results = resultsOf(fake, [invoice(1), invoice(2)]);
        expect(results.map((entry) => entry.status)).toEqual(['failed', 'created']);
        expect(results[0].error.code).toBe('SSS_REQUEST_LIMIT_EXCEEDED');
    });
});

describe('a malformed record', () => {
    const valid = () => invoice(1);
    test.each([
        ['is not an object', () => 'lago-invoice-1', null, 'INVALID_FLD_VALUE'],
        ['is null', () => null, null, 'INVALID_FLD_VALUE'],
        ['has no externalId', () => { const body = valid(); delete body.externalId; return body; }, null, 'INVALID_FLD_VALUE'],
        ['has a numeric externalId', () => ({ ...valid(), externalId: 42 }), 42, 'INVALID_FLD_VALUE'],
        ['has an empty externalId', () => ({ ...valid(), externalId: '' }), '', 'INVALID_FLD_VALUE'],
        ['has an unknown action', () => ({ ...valid(), action: 'delete' }), valid().externalId, 'INVALID_FLD_VALUE'],
        ['has an unknown type', () => ({ ...valid(), type: 'vendorbill' }), valid().externalId, 'INVALID_RCRD_TYPE'],
        ['has an unknown type and action', () => ({ ...valid(), type: 'vendorbill', action: 'delete' }), valid().externalId, 'INVALID_RCRD_TYPE'],
        ['has no type', () => { const body = valid(); delete body.type; return body; }, valid().externalId, 'INVALID_RCRD_TYPE'],
        ['has columns that are not an object', () => ({ ...valid(), columns: [] }), valid().externalId, 'INVALID_FLD_VALUE'],
        ['has lines that are not a list', () => ({ ...valid(), lines: { sublistId: 'item' } }), valid().externalId, 'INVALID_FLD_VALUE'],
        ['has line items that are not objects', () => ({ ...valid(), lines: [{ sublistId: 'item', lineItems: [1] }] }), valid().externalId, 'INVALID_FLD_VALUE'],
        ['has a non-boolean isDynamic', () => ({ ...valid(), isDynamic: 'yes' }), valid().externalId, 'INVALID_FLD_VALUE'],
        ['applies a line without doc', () => ({ ...creditMemo(1, '700'), lines: [{ sublistId: 'apply', lineItems: [{ apply: true, amount: 1 }] }] }), creditMemo(1, '700').externalId, 'INVALID_FLD_VALUE'],
    ])('that %s fails before anything is looked up', (label, build, externalId, code) => {
        const fake = install(ACCOUNT);

        const results = resultsOf(fake, [build(), invoice(2)]);

        expect(results[0]).toEqual({ externalId, status: 'failed', id: null, error: { code, message: expect.any(String) } });
        expect(results[1].status).toBe('created');
        expect(fake.apiCalls).toEqual(['search(invoice)', 'record.create(invoice)', 'record.save(invoice)']);
    });

    test.each([
        ['an unresolved {"$ref"} as a value', (body) => { body.columns.entity = { $ref: 'lago-customer-x' }; }],
        ['a date that does not exist', (body) => { body.columns.trandate = '2/30/2024'; }],
    ])('with %s fails with INVALID_FLD_VALUE and writes nothing', (label, spoil) => {
        const fake = install(ACCOUNT);
        const body = invoice(1);
        spoil(body);
        const [result] = resultsOf(fake, [body]);
        expect(result).toMatchObject({ status: 'failed', id: null, error: { code: 'INVALID_FLD_VALUE' } });
        expect(fake.all('invoice')).toHaveLength(0);
    });
});
