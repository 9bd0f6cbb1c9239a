// Record bodies as the loader sends them (docs/restlet-contract.md, "Record bodies"): dates
// M/D/YYYY, amounts in major units with the currency's decimals, lines + tax = the Lago total.

/** An account with one customer, the items, currencies and subsidiaries the bodies use. */
const ACCOUNT = Object.freeze({
    records: [{ type: 'customer', id: '100', externalId: 'lago-customer-5d2e6b8a-4f1c-4a63-9d0e-2b7c1a9f3e11' }],
    items: ['201', '202', '203', '210'],
    currencies: ['1', '4'],
    subsidiaries: ['1'],
});
const CUSTOMER_ID = '100';

const lagoId = (n) => `8c1f${String(n).padStart(4, '0')}-6d2a-4b7e-9f31-0a5c7e2d4b19`;

/** The body fields every invoice, sales order and credit memo carries. */
function documentHeader(n, prefix, trandate, duedate) {
    return {
        tranid: `${prefix}-${String(n).padStart(4, '0')}`,
        entity: CUSTOMER_ID,
        trandate,
        ...(duedate ? { duedate } : {}),
        currency: '1',
        subsidiary: '1',
        custbody_lago_id: lagoId(n),
    };
}

function customer(n = 1, columns = {}) {
    return {
        externalId: `lago-customer-${lagoId(n)}`,
        type: 'customer',
        isDynamic: false,
        columns: {
            entityid: `acme-${n}`,
            companyname: `Acme Analytics ${n}`,
            isperson: 'F',
            email: `billing+${n}@acme.example`,
            phone: '+1 415 555 0100',
            subsidiary: '1',
            currency: '1',
            custentity_lago_id: lagoId(n),
            ...columns,
        },
        options: { ignoreMandatoryFields: false },
    };
}

/**
 * An invoice with SuiteTax details: two fees and a coupon at 20 % tax.
 * Lines 7.50 + 49.00 - 5.00 = 51.50, tax 1.50 + 9.80 - 1.00 = 10.30, total 61.80 USD.
 */
function invoice(n = 1, { columns = {}, isDynamic = false, type = 'invoice', kind = 'invoice' } = {}) {
    const fee1 = `fee-${n}-a`;
    const fee2 = `fee-${n}-b`;
    const coupon = `coupon-${n}`;
    return {
        externalId: `lago-${kind}-${lagoId(n)}`,
        action: 'create',
        type,
        isDynamic,
        columns: {
            ...documentHeader(n, 'ACM-2024', '3/1/2024', '3/31/2024'),
            custbody_lago_invoice_link: `https://app.getlago.com/customer/${lagoId(1)}/invoice/${lagoId(n)}/overview`,
            taxdetailsoverride: true,
            taxregoverride: true,
            nexus: '6',
            ...columns,
        },
        lines: [{
            sublistId: 'item',
            lineItems: [
                {
                    item: '201', account: '54', quantity: 3, rate: 2.5, amount: 7.5, description: 'API calls',
                    taxdetailsreference: fee1, custcol_lago_line_id: fee1,
                    custcol_service_period_date_from: '2/1/2024', custcol_service_period_date_to: '2/29/2024',
                },
                {
                    item: '202', account: '54', quantity: 1, rate: 49, amount: 49, description: 'Startup plan',
                    taxdetailsreference: fee2, custcol_lago_line_id: fee2,
                    custcol_service_period_date_from: '3/1/2024', custcol_service_period_date_to: '3/31/2024',
                },
                {
                    item: '203', account: '54', quantity: 1, rate: -5, amount: -5, description: 'Coupon SPRING24',
                    taxdetailsreference: coupon,
                },
            ],
        }],
        taxdetails: [{
            sublistId: 'taxdetails',
            lineItems: [
                { taxdetailsreference: fee1, taxtype: '12', taxcode: '34', taxbasis: 7.5, taxrate: 20, taxamount: 1.5 },
                { taxdetailsreference: fee2, taxtype: '12', taxcode: '34', taxbasis: 49, taxrate: 20, taxamount: 9.8 },
                { taxdetailsreference: coupon, taxtype: '12', taxcode: '34', taxbasis: -5, taxrate: 20, taxamount: -1 },
            ],
        }],
        options: { ignoreMandatoryFields: false },
    };
}

/** A sales order with the legacy tax override: 2 x 9.50 = 19.00 + 3.80 tax = 22.80 USD. */
function salesOrder(n = 1, { isDynamic = false } = {}) {
    return {
        externalId: `lago-salesorder-${lagoId(n)}`,
        type: 'salesorder',
        isDynamic,
        columns: {
            ...documentHeader(n, 'ACM-SO', '3/1/2024', '3/31/2024'),
            istaxable: true,
            taxitem: '77',
            taxamountoverride: 3.8,
        },
        lines: [{
            sublistId: 'item',
            lineItems: [{
                item: '201', account: '54', quantity: 2, rate: 9.5, amount: 19, description: 'Seats',
                custcol_lago_line_id: `fee-so-${n}`,
                custcol_service_period_date_from: '3/1/2024', custcol_service_period_date_to: '3/31/2024',
            }],
        }],
    };
}

/** A credit note of 10.00 + 2.00 tax, applied in full to the invoice with internal id `invoiceId`. */
function creditMemo(n, invoiceId, { isDynamic = false } = {}) {
    const item = `cn-item-${n}`;
    return {
        externalId: `lago-creditnote-${lagoId(n)}`,
        type: 'creditmemo',
        isDynamic,
        columns: {
            ...documentHeader(n, 'ACM-CN', '3/5/2024'),
            taxdetailsoverride: true,
            taxregoverride: true,
            nexus: '6',
        },
        lines: [
            {
                sublistId: 'item',
                lineItems: [{ item: '202', account: '54', quantity: 1, rate: 10, amount: 10, description: 'Refund: Startup plan', taxdetailsreference: item }],
            },
            { sublistId: 'apply', lineItems: [{ doc: invoiceId, apply: true, amount: 12 }] },
        ],
        taxdetails: [{
            sublistId: 'taxdetails',
            lineItems: [{ taxdetailsreference: item, taxtype: '12', taxcode: '34', taxbasis: 10, taxrate: 20, taxamount: 2 }],
        }],
    };
}

/** A payment applied to invoices: `applications` is [[invoiceId, amount], ...]. */
function payment(n, applications, { isDynamic = false, customer: customerId = CUSTOMER_ID } = {}) {
    const total = applications.reduce((sum, [, amount]) => sum + Math.round(amount * 100), 0) / 100;
    return {
        externalId: `lago-payment-${lagoId(n)}`,
        type: 'customerpayment',
        isDynamic,
        columns: {
            customer: customerId,
            payment: total,
            trandate: '3/20/2024',
            currency: '1',
            custbody_lago_id: lagoId(n),
            memo: `Lago payment ${lagoId(n)}`,
        },
        lines: [{
            sublistId: 'apply',
            lineItems: applications.map(([doc, amount]) => ({ doc, apply: true, amount })),
        }],
    };
}

module.exports = { ACCOUNT, CUSTOMER_ID, creditMemo, customer, invoice, lagoId, payment, salesOrder };
