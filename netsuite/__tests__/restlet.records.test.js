// POST creates each record type with its body fields and sublists, and finds before it creates.
const record = require('N/record');
const { install } = require('./support/fakeNetSuite');
const { ACCOUNT, CUSTOMER_ID, creditMemo, customer, invoice, payment, salesOrder } = require('./support/documents');

const created = (externalId) => ({ externalId, status: 'created', id: expect.stringMatching(/^\d+$/), error: null });

function postOne(fake, body) {
    const response = fake.post({ records: [body] });
    expect(response.status).toBe(200);
    expect(response.body.results).toHaveLength(1);
    return response.body.results[0];
}

describe('customer', () => {
    test('is created with its columns and externalid', () => {
        const fake = install(ACCOUNT);
        const body = customer(7);

        const result = postOne(fake, body);

        expect(result).toEqual(created(body.externalId));
        const stored = fake.find('customer', body.externalId);
        expect(stored.id).toBe(result.id);
        expect(stored.fields).toEqual({ externalid: body.externalId, ...body.columns });
        expect(fake.drafts[0].saveOptions).toEqual({ enableSourcing: true, ignoreMandatoryFields: false });
    });

    test('honours options.ignoreMandatoryFields', () => {
        const fake = install(ACCOUNT);
        postOne(fake, { ...customer(7), options: { ignoreMandatoryFields: true } });
        expect(fake.drafts[0].saveOptions.ignoreMandatoryFields).toBe(true);
    });
});

describe.each([false, true])('invoice with SuiteTax details (isDynamic %s)', (isDynamic) => {
    test('writes body fields, item lines and tax detail lines', () => {
        const fake = install(ACCOUNT);
        const body = invoice(1, { isDynamic });

        const result = postOne(fake, body);

        expect(result).toEqual(created(body.externalId));
        expect(record.create).toHaveBeenCalledWith({ type: 'invoice', isDynamic });
        const stored = fake.find('invoice', body.externalId);
        expect(stored.fields).toMatchObject({
            externalid: body.externalId,
            tranid: 'ACM-2024-0001',
            entity: CUSTOMER_ID,
            currency: '1',
            custbody_lago_id: body.columns.custbody_lago_id,
            custbody_lago_invoice_link: body.columns.custbody_lago_invoice_link,
            taxdetailsoverride: true,
            taxregoverride: true,
        });
        // M/D/YYYY text becomes a Date: NetSuite's setValue refuses text in a date field.
        expect(stored.fields.trandate).toEqual(new Date(2024, 2, 1));
        expect(stored.fields.duedate).toEqual(new Date(2024, 2, 31));
        expect(stored.sublists.item).toHaveLength(3);
        expect(stored.sublists.item[0]).toEqual({
            ...body.lines[0].lineItems[0],
            custcol_service_period_date_from: new Date(2024, 1, 1),
            custcol_service_period_date_to: new Date(2024, 1, 29),
        });
        expect(stored.sublists.item[2]).toEqual(body.lines[0].lineItems[2]);
        expect(stored.sublists.taxdetails).toEqual(body.taxdetails[0].lineItems);
    });

    test('sets each line\'s item first and its amount last', () => {
        const fake = install(ACCOUNT);
        postOne(fake, invoice(1, { isDynamic }));
        const lineFields = fake.drafts[0].trace.filter((step) => step.startsWith('item[0]:'));
        expect(lineFields[0]).toBe('item[0]:item');
        expect(lineFields[lineFields.length - 1]).toBe('item[0]:amount');
    });
});

test('an invoice with tax details but no taxdetailsoverride column gets the override turned on first', () => {
    const fake = install(ACCOUNT);
    const body = invoice(2);
    delete body.columns.taxdetailsoverride;

    postOne(fake, body);

    const { trace } = fake.drafts[0];
    expect(fake.find('invoice', body.externalId).fields.taxdetailsoverride).toBe(true);
    expect(trace.indexOf('body:taxdetailsoverride')).toBeLessThan(trace.indexOf('taxdetails[0]:taxdetailsreference'));
});

test.each([false, true])('a sales order with the legacy tax override sets the tax total after its lines (isDynamic %s)', (isDynamic) => {
    const fake = install(ACCOUNT);
    const body = salesOrder(3, { isDynamic });

    const result = postOne(fake, body);

    expect(result).toEqual(created(body.externalId));
    const stored = fake.find('salesorder', body.externalId);
    expect(stored.fields).toMatchObject({ istaxable: true, taxitem: '77', taxamountoverride: 3.8 });
    const { trace } = fake.drafts[0];
    expect(trace.indexOf('body:taxamountoverride')).toBeGreaterThan(trace.lastIndexOf('item[0]:amount'));
});

describe.each([false, true])('applying documents (isDynamic %s)', (isDynamic) => {
    const seeded = {
        ...ACCOUNT,
        records: [
            ...ACCOUNT.records,
            { type: 'invoice', id: '700', externalId: 'lago-invoice-a', fields: { entity: CUSTOMER_ID } },
            { type: 'invoice', id: '701', externalId: 'lago-invoice-b', fields: { entity: CUSTOMER_ID } },
        ],
    };

    test('a credit memo is created applied to its invoice only', () => {
        const fake = install(seeded);
        const body = creditMemo(4, '701', { isDynamic });

        const result = postOne(fake, body);

        expect(result).toEqual(created(body.externalId));
        expect(record.create).toHaveBeenCalledWith({ type: 'creditmemo', isDynamic, defaultValues: { entity: CUSTOMER_ID } });
        const stored = fake.find('creditmemo', body.externalId);
        expect(stored.sublists.apply).toEqual([
            { doc: '700', internalid: '700', apply: false, amount: null },
            { doc: '701', internalid: '701', apply: true, amount: 12 },
        ]);
        expect(stored.sublists.item).toHaveLength(1);
        expect(stored.sublists.taxdetails).toHaveLength(1);
    });

    test('a customer payment is applied to two invoices and its amount is set after them', () => {
        const fake = install(seeded);
        const body = payment(5, [['700', 61.8], ['701', 22.8]], { isDynamic });

        const result = postOne(fake, body);

        expect(result).toEqual(created(body.externalId));
        const stored = fake.find('customerpayment', body.externalId);
        expect(stored.fields).toMatchObject({ customer: CUSTOMER_ID, payment: 84.6, trandate: new Date(2024, 2, 20) });
        expect(stored.sublists.apply.map((line) => [line.doc, line.apply, line.amount]))
            .toEqual([['700', true, 61.8], ['701', true, 22.8]]);
        const { trace } = fake.drafts[0];
        expect(trace).not.toContain('body:customer'); // the record was initialised with the customer
        expect(trace[trace.length - 1]).toBe('body:payment');
    });

    test('an invoice the customer does not have open cannot be applied', () => {
        const fake = install({
            ...seeded,
            records: [...seeded.records, { type: 'invoice', id: '702', externalId: 'lago-invoice-c', voided: true }],
        });
        const result = postOne(fake, payment(6, [['702', 10]], { isDynamic }));
        expect(result.error).toEqual({ code: 'INVALID_KEY_OR_REF', message: 'Invalid doc reference key 702.' });
        expect(fake.all('customerpayment')).toHaveLength(0);
    });
});

describe('find before create', () => {
    test('sending a record again answers existing with the same id and writes nothing', () => {
        const fake = install(ACCOUNT);
        const body = invoice(1);
        const first = postOne(fake, body);

        const again = postOne(fake, body);

        expect(again).toEqual({ externalId: body.externalId, status: 'existing', id: first.id, error: null });
        expect(fake.all('invoice')).toHaveLength(1);
        expect(fake.apiCalls.slice(-1)).toEqual(['search(invoice)']);
    });

    test('a record that already existed before the sync answers existing', () => {
        const fake = install(ACCOUNT);
        const body = { ...customer(1), externalId: ACCOUNT.records[0].externalId };
        expect(postOne(fake, body)).toEqual({ externalId: body.externalId, status: 'existing', id: '100', error: null });
        expect(record.create).not.toHaveBeenCalled();
    });

    test('the same externalId twice in one batch is created once, then answers existing', () => {
        const fake = install(ACCOUNT);
        const body = invoice(1);

        const { results } = fake.post({ records: [body, body] }).body;

        expect(results.map((entry) => entry.status)).toEqual(['created', 'existing']);
        expect(results[1].id).toBe(results[0].id);
        expect(fake.all('invoice')).toHaveLength(1);
    });

    test('the externalId is looked up within the record type', () => {
        const fake = install({
            ...ACCOUNT,
            records: [...ACCOUNT.records, { type: 'salesorder', id: '900', externalId: invoice(1).externalId }],
        });
        expect(postOne(fake, invoice(1)).status).toBe('created');
    });
});

test('a batch answers one result per record, in request order', () => {
    const fake = install({
        ...ACCOUNT,
        records: [...ACCOUNT.records, { type: 'invoice', id: '800', externalId: 'lago-invoice-voidme' }],
    });
    const batch = [
        customer(2),
        invoice(3),
        { externalId: 'lago-invoice-voidme', action: 'void', type: 'invoice' },
        { ...invoice(4), type: 'estimate' },
        invoice(3),
    ];

    const { results } = fake.post({ records: batch }).body;

    expect(results.map((entry) => [entry.externalId, entry.status])).toEqual([
        [batch[0].externalId, 'created'],
        [batch[1].externalId, 'created'],
        ['lago-invoice-voidme', 'voided'],
        [batch[3].externalId, 'failed'],
        [batch[1].externalId, 'existing'],
    ]);
});
