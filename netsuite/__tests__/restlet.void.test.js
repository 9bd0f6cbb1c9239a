// POST action "void": voids the record with that externalId, idempotently.
const transaction = require('N/transaction');
const { install, suiteScriptError } = require('./support/fakeNetSuite');
const { ACCOUNT, invoice } = require('./support/documents');

const voidOf = (type, externalId) => ({ externalId, action: 'void', type });

function account(extraRecords = []) {
    return install({ ...ACCOUNT, records: [...ACCOUNT.records, ...extraRecords] });
}

test.each(['invoice', 'salesorder', 'creditmemo', 'customerpayment'])('a %s is voided', (type) => {
    const fake = account([{ type, id: '800', externalId: 'lago-doc-1' }]);

    const { results } = fake.post({ records: [voidOf(type, 'lago-doc-1')] }).body;

    expect(results).toEqual([{ externalId: 'lago-doc-1', status: 'voided', id: '800', error: null }]);
    expect(transaction.void).toHaveBeenCalledWith({ type, id: '800' });
    expect(fake.find(type, 'lago-doc-1').voided).toBe(true);
});

test('voiding again answers voided without voiding twice', () => {
    const fake = account([{ type: 'invoice', id: '800', externalId: 'lago-invoice-1' }]);
    fake.post({ records: [voidOf('invoice', 'lago-invoice-1')] });

    const again = fake.post({ records: [voidOf('invoice', 'lago-invoice-1')] }).body.results;

    expect(again).toEqual([{ externalId: 'lago-invoice-1', status: 'voided', id: '800', error: null }]);
    expect(transaction.void).toHaveBeenCalledTimes(1);
});

test('a record voided in NetSuite before the sync answers voided', () => {
    const fake = account([{ type: 'creditmemo', id: '801', externalId: 'lago-creditnote-1', voided: true }]);
    const { results } = fake.post({ records: [voidOf('creditmemo', 'lago-creditnote-1')] }).body;
    expect(results[0].status).toBe('voided');
    expect(transaction.void).not.toHaveBeenCalled();
});

test('an invoice created and voided in the same batch ends voided', () => {
    const fake = account();
    const body = invoice(1);
    const { results } = fake.post({ records: [body, voidOf('invoice', body.externalId)] }).body;
    expect(results.map((entry) => entry.status)).toEqual(['created', 'voided']);
    expect(results[1].id).toBe(results[0].id);
});

test('voiding a record that does not exist fails with RCRD_DSNT_EXIST', () => {
    const fake = account();

    const { results } = fake.post({ records: [voidOf('invoice', 'lago-invoice-missing')] }).body;

    expect(results).toEqual([{
        externalId: 'lago-invoice-missing',
        status: 'failed',
        id: null,
        error: { code: 'RCRD_DSNT_EXIST', message: expect.stringContaining('lago-invoice-missing') },
    }]);
    expect(transaction.void).not.toHaveBeenCalled();
});

test('a customer cannot be voided', () => {
    const fake = account();
    const { results } = fake.post({ records: [voidOf('customer', ACCOUNT.records[0].externalId)] }).body;
    expect(results[0]).toMatchObject({ status: 'failed', id: null, error: { code: 'INVALID_RCRD_TYPE' } });
    expect(fake.apiCalls).toEqual([]);
});

test('a void NetSuite refuses answers failed with NetSuite\'s error', () => {
    const fake = account([{ type: 'invoice', id: '800', externalId: 'lago-invoice-1' }]);
    transaction.void.mockImplementationOnce(() => {
        throw suiteScriptError('INSUFFICIENT_PERMISSION', 'You do not have permission to void this transaction.');
    });
    const { results } = fake.post({ records: [voidOf('invoice', 'lago-invoice-1')] }).body;
    expect(results[0]).toEqual({
        externalId: 'lago-invoice-1',
        status: 'failed',
        id: null,
        error: { code: 'INSUFFICIENT_PERMISSION', message: 'You do not have permission to void this transaction.' },
    });
});
