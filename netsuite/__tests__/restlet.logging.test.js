// N/log: counts and ids at audit level, error codes at error level, never credentials or bodies.
const { install } = require('./support/fakeNetSuite');
const { ACCOUNT, customer, invoice } = require('./support/documents');

// OAuth 1.0a parameters may travel in the query string, where a RESTlet's get() receives them.
const CREDENTIALS = {
    oauth_consumer_key: 'ck-3f9a1c7e5b2d4f6a8c0e1b3d5f7a9c1e3b5d7f9a1c3e5b7d9f1a3c5e7b9d1f3a',
    oauth_token: 'tk-9e7c5a3f1d9b7e5c3a1f9d7b5e3c1a9f7d5b3e1c9a7f5d3b1e9c7a5f3d1b9e7c',
    oauth_signature: 'c2lnbmF0dXJlLXRoYXQtbXVzdC1uZXZlci1iZS1sb2dnZWQ=',
    oauth_nonce: 'nonce-5b1d9f3a7c',
};
const SECRETS = Object.values(CREDENTIALS);

function logged(fake) {
    return fake.logs.map((entry) => `${entry.level} ${entry.title} ${entry.details}`).join('\n');
}

test('a POST logs one audit line with the counts and the written ids', () => {
    const fake = install(ACCOUNT);
    const body = invoice(1);

    const [result] = fake.post({ records: [body, { ...invoice(2), type: 'estimate' }] }).body.results;

    const audits = fake.logs.filter((entry) => entry.level === 'audit');
    expect(audits).toHaveLength(1);
    expect(JSON.parse(audits[0].details)).toEqual({
        records: 2, created: 1, existing: 0, voided: 0, applied: 0, failed: 1, deferred: 0, usageLeft: 4960,
        written: [`${body.externalId}=${result.id}`],
    });
});

test('a failed record is logged at error level with its code', () => {
    const fake = install(ACCOUNT);
    const body = { ...invoice(1), columns: { ...invoice(1).columns, entity: '999' } };
    fake.post({ records: [body] });
    expect(fake.logs.filter((entry) => entry.level === 'error')).toEqual([
        { level: 'error', title: 'Lago sync: record failed', details: `${body.externalId}: INVALID_KEY_OR_REF` },
    ]);
});

test('a rejected request is logged at error level with its code', () => {
    const fake = install(ACCOUNT);
    fake.post({ nothing: true });
    expect(fake.logs).toEqual([expect.objectContaining({ level: 'error', details: expect.stringMatching(/^INVALID_REQUEST: /) })]);
});

test('nothing logged contains credentials, on success or failure', () => {
    const fake = install(ACCOUNT);
    fake.get({ type: 'customer', externalIds: ACCOUNT.records[0].externalId, ...CREDENTIALS });
    fake.get({ type: 'customer', ...CREDENTIALS });
    fake.get({ type: 'nope', externalIds: 'x', ...CREDENTIALS });
    fake.post({ records: [customer(1), { ...invoice(1), type: 'estimate' }], ...CREDENTIALS });
    fake.post({ ...CREDENTIALS });

    const text = logged(fake);
    expect(fake.logs.length).toBeGreaterThanOrEqual(5);
    SECRETS.forEach((secret) => expect(text).not.toContain(secret));
    expect(text).not.toMatch(/oauth_/i);
});

test('record bodies are not logged', () => {
    const fake = install(ACCOUNT);
    const body = customer(1, { email: 'jane.doe@customer.example', companyname: 'Jane Doe Consulting' });
    fake.post({ records: [body, { ...body, externalId: 'lago-customer-2', columns: { ...body.columns, subsidiary: '7' } }] });

    const text = logged(fake);
    expect(text).not.toContain('jane.doe@customer.example');
    expect(text).not.toContain('Jane Doe Consulting');
});
