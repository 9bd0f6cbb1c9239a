// Fields the mapping file adds (department, class, custom body and line fields): set on header and
// lines, date fields typed by the account converted to Dates, select fields by internal id, and an
// account's mandatory fields refused with NetSuite's own message until the body carries them.
const { install } = require('./support/fakeNetSuite');
const { ACCOUNT, creditMemo, invoice } = require('./support/documents');

const FIELD_TYPES = { department: 'select', class: 'select', custbody_contract_start: 'date', custcol_billing_start: 'date' };

function mapped(body) {
    const lineItems = body.lines[0].lineItems.map((line, i) => ({ ...line, class: String(11 + i), custcol_billing_start: '2/9/2024' }));
    return {
        ...body,
        columns: { ...body.columns, department: '101', custbody_lago_cost_center: 'sales', custbody_contract_start: '2/9/2024' },
        lines: [{ ...body.lines[0], lineItems }],
    };
}

function postOne(fake, body) {
    const response = fake.post({ records: [body] });
    expect(response.status).toBe(200);
    return response.body.results[0];
}

describe.each([false, true])('mapped fields (isDynamic %s)', (isDynamic) => {
    test('header and line fields land; dates typed by the account become Dates, selects keep their id', () => {
        const fake = install({ ...ACCOUNT, fieldTypes: FIELD_TYPES });
        const body = mapped(invoice(1, { isDynamic }));

        expect(postOne(fake, body).status).toBe('created');

        const stored = fake.find('invoice', body.externalId);
        expect(stored.fields).toMatchObject({ department: '101', custbody_lago_cost_center: 'sales' });
        expect(stored.fields.custbody_contract_start).toEqual(new Date(2024, 1, 9));
        expect(stored.sublists.item.map((row) => row.class)).toEqual(['11', '12', '13']);
        expect(stored.sublists.item.map((row) => row.custcol_billing_start))
            .toEqual([new Date(2024, 1, 9), new Date(2024, 1, 9), new Date(2024, 1, 9)]);
    });

    test('a date-typed custom field holding no real date is refused', () => {
        const fake = install({ ...ACCOUNT, fieldTypes: FIELD_TYPES });
        const body = mapped(invoice(1, { isDynamic }));
        body.columns.custbody_contract_start = '2/30/2024';

        const result = postOne(fake, body);

        expect(result.status).toBe('failed');
        expect(result.error).toEqual({
            code: 'INVALID_FLD_VALUE', message: 'Field custbody_contract_start holds 2/30/2024, which is not a date.',
        });
    });
});

describe('an account with mandatory fields', () => {
    const setup = { ...ACCOUNT, fieldTypes: FIELD_TYPES, requiredFields: { invoice: ['department', 'item.class'] } };

    test('refuses a record without them with NetSuite\'s message, then takes it once they are mapped', () => {
        const fake = install(setup);
        const bare = invoice(1);

        expect(postOne(fake, bare)).toEqual({
            externalId: bare.externalId, status: 'failed', id: null,
            error: { code: 'USER_ERROR', message: 'Please enter value(s) for: Department, Class' },
        });
        expect(fake.find('invoice', bare.externalId)).toBeUndefined();

        expect(postOne(fake, mapped(bare)).status).toBe('created');
        expect(fake.find('invoice', bare.externalId).fields.department).toBe('101');
    });

    test('other record types and ignoreMandatoryFields are not held to them', () => {
        const fake = install(setup);
        const bare = invoice(2);
        expect(postOne(fake, { ...bare, options: { ignoreMandatoryFields: true } }).status).toBe('created');
        const memo = creditMemo(3, fake.find('invoice', bare.externalId).id);
        expect(postOne(fake, memo).status).toBe('created');
    });
});
