// An in-memory NetSuite account behind the automatic mocks of Oracle's stubs (see
// mockNetSuiteModules.js): records, externalid searches, voids, script parameters, logs and the
// governance units NetSuite charges, so the RESTlet runs for real and its usage guard is exercised.
//
// It follows the usage model of docs/architecture.md, which the Python sandbox shares: a search
// run costs 10 units, record.create 10 for a transaction / 5 for a customer, Record.save 20 / 10,
// transaction.void 10. Units are charged when the call is made, also when it then fails.
//
// Like NetSuite in standard mode, references are checked when the record is saved: an unknown
// customer, item, currency or subsidiary fails with INVALID_KEY_OR_REF "Invalid {field} reference
// key {value}." where field is the record's own field (a payment's customer field is `customer`,
// other transactions' `entity`); a missing customer or item fails with USER_ERROR.
const error = require('N/error');
const log = require('N/log');
const query = require('N/query');
const record = require('N/record');
const runtime = require('N/runtime');
const search = require('N/search');
const transaction = require('N/transaction');
const { FakeRecord, requireArguments, suiteScriptError } = require('./fakeRecord');

const RESTLET = 'SuiteScripts/LagoNetSuiteSync/lago_netsuite_restlet';
const TRANSACTION_TYPES = new Set(['invoice', 'salesorder', 'creditmemo', 'customerpayment', 'customerrefund']);
const TOTALLED_TYPES = new Set(['invoice', 'salesorder', 'creditmemo']);
const SEARCH_COLUMNS = new Set(['internalid', 'externalid', 'voided']);
const UNITS = { search: 10, create: [10, 5], save: [20, 10], void: 10, load: [10, 5] };

const referenceError = (field, value) => suiteScriptError('INVALID_KEY_OR_REF', `Invalid ${field} reference key ${value}.`);
const has = (object, key) => Object.prototype.hasOwnProperty.call(object, key);
const isTransaction = (type) => TRANSACTION_TYPES.has(type);
/** The body field holding a transaction's customer: `customer` on a payment, `entity` elsewhere. */
const customerField = (type) => (type === 'customerpayment' || type === 'customerrefund' ? 'customer' : 'entity');
// Amounts in millionths (exact for every currency's decimals).
const micro = (value) => Math.round(Number(value) * 1e6);
const clone = (value) => (value instanceof Date ? new Date(value.getTime())
    : Array.isArray(value) ? value.map(clone)
        : value && typeof value === 'object' ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, clone(v)]))
            : value);

/** The account: stored records, the current call's units and clock, logs and injected faults. */
class FakeAccount {
    constructor(setup) {
        this.usageLimit = setup.usageLimit === undefined ? 5000 : setup.usageLimit;
        this.parameters = setup.parameters || {};
        this.latencyMs = { save: 0, search: 0, void: 0, ...setup.latencyMs };
        this.validKeys = {
            item: setup.items ? new Set(setup.items.map(String)) : null,
            currency: setup.currencies ? new Set(setup.currencies.map(String)) : null,
            subsidiary: setup.subsidiaries ? new Set(setup.subsidiaries.map(String)) : null,
        };
        this.fieldTypes = setup.fieldTypes || {};
        // The account's mandatory fields per record type: body field ids, `item.<id>` for lines.
        this.requiredFields = setup.requiredFields || {};
        this.stored = [];
        this.nextId = 10001;
        this.logs = [];
        this.apiCalls = [];
        this.saveFaults = [];
        this.drafts = [];
        this.used = 0;
        this.clockMs = 0;
        this.exhausted = false;
        this.changes = 0;
        (setup.records || []).forEach((seed) => this.seed(seed));
    }

    // ---- setup and inspection -------------------------------------------------------------

    seed({ type, id, externalId, voided = false, fields = {}, sublists = {}, lastModified }) {
        this.stored.push({
            type, id: String(id), externalId, voided, fields: clone(fields), sublists: clone(sublists),
            lastModified: lastModified || this.stamp(),
        });
    }

    /** The next lastmodifieddate: one second after the previous change (whole seconds, UTC). */
    stamp() {
        this.changes += 1;
        return new Date(Date.UTC(2026, 0, 1) + this.changes * 1000).toISOString().replace('.000Z', 'Z');
    }

    /** Someone edits a stored record in the UI: its lastmodifieddate moves (and `changes` apply). */
    modify(id, changes = {}) {
        const stored = this.stored.find((candidate) => candidate.id === String(id));
        Object.assign(stored, changes);
        stored.lastModified = this.stamp();
        return stored;
    }

    /** The stored record of `type` with this externalid, or undefined. */
    find(type, externalId) {
        return this.stored.find((stored) => stored.type === type && stored.externalId === externalId);
    }

    all(type) {
        return this.stored.filter((stored) => stored.type === type);
    }

    /** The next save fails with this NetSuite error (after its units are charged). */
    failNextSave(code, message) {
        this.saveFaults.push(suiteScriptError(code, message));
    }

    // ---- governance and clock -------------------------------------------------------------

    charge(units, apiCall) {
        this.apiCalls.push(apiCall);
        if (this.used + units > this.usageLimit) {
            // NetSuite ends the script here; the harness fails the test that let it happen.
            this.exhausted = true;
            throw suiteScriptError('SSS_USAGE_LIMIT_EXCEEDED', 'Script Execution Usage Limit Exceeded');
        }
        this.used += units;
    }

    remainingUsage() {
        return this.usageLimit - this.used;
    }

    // ---- N/record, N/search, N/transaction --------------------------------------------------

    isCustomer(id) {
        return this.stored.some((stored) => stored.type === 'customer' && stored.id === String(id));
    }

    openInvoices(customer) {
        return this.stored.filter((stored) => stored.type === 'invoice' && !stored.voided
            && (stored.fields.entity === undefined || String(stored.fields.entity) === String(customer)));
    }

    // ---- contract 2: amounts remaining, credit memos loaded and applied, customer refunds ------

    /** Credit memos of the customer that are not voided: what a customer refund's apply list shows. */
    openMemos(customer) {
        return this.stored.filter((stored) => stored.type === 'creditmemo' && !stored.voided
            && String(stored.fields.entity) === String(customer));
    }

    /** What other records' applied apply lines take from record `id` (excluding record `exceptId`). */
    appliedTo(id, exceptId) {
        return this.stored.filter((stored) => !stored.voided && stored.id !== exceptId)
            .reduce((sum, stored) => sum + (stored.sublists.apply || [])
                .filter((row) => row.apply === true && String(row.doc) === String(id))
                .reduce((rowSum, row) => rowSum + micro(row.amount), 0), 0);
    }

    /** Amount due on an invoice / unapplied on a memo, in millionths (null when its total is unknown). */
    remainingMicro(stored, exceptId) {
        if (stored.total === undefined) {
            return null;
        }
        if (stored.voided) {
            return 0;
        }
        const own = stored.type === 'creditmemo' && stored.id !== exceptId ? (stored.sublists.apply || [])
            .filter((row) => row.apply === true).reduce((sum, row) => sum + micro(row.amount), 0) : 0;
        return micro(stored.total) - this.appliedTo(stored.id, exceptId) - own;
    }

    /** The apply list NetSuite shows a record of `type` for `customer`, with each document's `due`. */
    applyList(type, customer, exceptId) {
        const docs = type === 'customerrefund' ? this.openMemos(customer) : this.openInvoices(customer);
        return docs.map((doc) => {
            const left = this.remainingMicro(doc, exceptId);
            const row = { doc: doc.id, internalid: doc.id, apply: false, amount: null };
            return left === null ? row : { ...row, due: left / 1e6 };
        });
    }

    /** record.load: a draft of a stored record, its apply list as NetSuite lists it now. */
    loadRecord(options) {
        requireArguments('record.load', options, ['type', 'id']);
        this.charge(UNITS.load[isTransaction(options.type) ? 0 : 1], `record.load(${options.type})`);
        const stored = this.stored.find((candidate) => candidate.type === options.type && candidate.id === String(options.id));
        if (!stored) {
            throw suiteScriptError('RCRD_DSNT_EXIST', 'That record does not exist.');
        }
        const draft = new FakeRecord(this, stored.type, options.isDynamic, {});
        draft.fields = clone(stored.fields);
        draft.sublists = clone(stored.sublists);
        draft.loadedFrom = stored;
        const applied = new Map((stored.sublists.apply || []).filter((row) => row.apply === true)
            .map((row) => [String(row.doc), row.amount]));
        draft.sublists.apply = this.applyList(stored.type, stored.fields[customerField(stored.type)], stored.id)
            .map((row) => (applied.has(String(row.doc)) ? { ...row, apply: true, amount: applied.get(String(row.doc)) } : row));
        const unapplied = this.remainingMicro(stored);
        if (unapplied !== null) {
            draft.fields.unapplied = unapplied / 1e6;
        }
        this.drafts.push(draft);
        return draft;
    }

    /** NetSuite refuses to apply more than is due on a document, or a memo to more than its total. */
    checkApplied(draft, total) {
        const rows = (draft.sublists.apply || []).filter((row) => row.apply === true);
        rows.forEach((row) => {
            if (row.due !== undefined && micro(row.amount) > micro(row.due)) {
                throw suiteScriptError('USER_ERROR', `The amount ${row.amount} exceeds what is due on ${row.doc}.`);
            }
        });
        if (draft.type === 'creditmemo' && total !== undefined
            && rows.reduce((sum, row) => sum + micro(row.amount), 0) > micro(total)) {
            throw suiteScriptError('USER_ERROR', 'The applied amounts exceed the credit memo total.');
        }
    }

    createRecord(options) {
        requireArguments('record.create', options, ['type']);
        if (!['customer', ...TRANSACTION_TYPES].includes(options.type)) {
            throw suiteScriptError('INVALID_RCRD_TYPE', `Invalid record type ${options.type}.`);
        }
        this.charge(UNITS.create[isTransaction(options.type) ? 0 : 1], `record.create(${options.type})`);
        const defaults = options.defaultValues || {};
        if (defaults.entity !== undefined && !this.isCustomer(defaults.entity)) {
            throw referenceError(customerField(options.type), defaults.entity);
        }
        const draft = new FakeRecord(this, options.type, options.isDynamic, defaults);
        this.drafts.push(draft);
        return draft;
    }

    checkReferences(draft) {
        const { fields } = draft;
        if (isTransaction(draft.type)) {
            const fieldId = customerField(draft.type);
            if (fields[fieldId] === undefined || fields[fieldId] === '') {
                throw suiteScriptError('USER_ERROR', `Please enter value(s) for: ${fieldId}.`);
            }
            if (!this.isCustomer(fields[fieldId])) {
                throw referenceError(fieldId, fields[fieldId]);
            }
        }
        ['subsidiary', 'currency'].forEach((fieldId) => {
            if (has(fields, fieldId) && this.validKeys[fieldId] && !this.validKeys[fieldId].has(String(fields[fieldId]))) {
                throw referenceError(fieldId, fields[fieldId]);
            }
        });
        (draft.sublists.item || []).forEach((row) => {
            if (row.item === undefined || row.item === '') {
                throw suiteScriptError('USER_ERROR', 'Please enter value(s) for: item.');
            }
            if (this.validKeys.item && !this.validKeys.item.has(String(row.item))) {
                throw referenceError('item', row.item);
            }
        });
    }

    /** NetSuite's answer to a save without the account's mandatory fields (unless told to ignore them). */
    checkRequired(draft, options) {
        if (options.ignoreMandatoryFields === true) {
            return;
        }
        const labels = { department: 'Department', class: 'Class', location: 'Location' };
        const empty = (value) => value === undefined || value === null || value === '';
        const missing = (this.requiredFields[draft.type] || []).filter((name) => {
            const [sublistId, fieldId] = name.includes('.') ? name.split('.') : [null, name];
            return sublistId ? (draft.sublists[sublistId] || []).some((row) => empty(row[fieldId])) : empty(draft.fields[name]);
        }).map((name) => labels[name.split('.').pop()] || name.split('.').pop());
        if (missing.length > 0) {
            throw suiteScriptError('USER_ERROR', `Please enter value(s) for: ${missing.join(', ')}`);
        }
    }

    /** A document's total (item lines + tax), or undefined for types NetSuite keeps no balance on. */
    totalOf(draft) {
        if (!TOTALLED_TYPES.has(draft.type)) {
            return undefined;
        }
        const sum = (rows, fieldId) => (rows || []).reduce((total, row) => total + micro(row[fieldId] || 0), 0);
        const taxRows = draft.sublists.taxdetails || [];
        const tax = taxRows.length > 0 ? sum(taxRows, 'taxamount') : micro(draft.fields.taxamountoverride || 0);
        return (sum(draft.sublists.item, 'amount') + tax) / 1e6;
    }

    checkTotal(draft) {
        if (!TOTALLED_TYPES.has(draft.type)) {
            return;
        }
        const sum = (rows, fieldId) => (rows || []).reduce((total, row) => total + (Number(row[fieldId]) || 0), 0);
        const taxRows = draft.sublists.taxdetails || [];
        const tax = taxRows.length > 0 ? sum(taxRows, 'taxamount') : Number(draft.fields.taxamountoverride) || 0;
        if (sum(draft.sublists.item, 'amount') + tax < -1e-9) {
            throw suiteScriptError('USER_ERROR', 'total can not be negative');
        }
    }

    saveRecord(draft, options) {
        this.charge(UNITS.save[isTransaction(draft.type) ? 0 : 1], `record.save(${draft.type})`);
        this.clockMs += this.latencyMs.save;
        draft.saveOptions = options;
        if (this.saveFaults.length > 0) {
            throw this.saveFaults.shift();
        }
        this.checkReferences(draft);
        this.checkRequired(draft, options);
        this.checkTotal(draft);
        const total = this.totalOf(draft);
        this.checkApplied(draft, total);
        if (draft.loadedFrom) {  // a loaded record saved again: the same record, changed
            draft.loadedFrom.fields = clone(draft.fields);
            draft.loadedFrom.sublists = clone(draft.sublists);
            draft.loadedFrom.lastModified = this.stamp();
            return Number(draft.loadedFrom.id);
        }
        const externalId = draft.fields.externalid;
        if (externalId !== undefined && this.find(draft.type, externalId)) {
            throw suiteScriptError('DUP_RCRD', 'This record already exists.');
        }
        while (this.stored.some((stored) => stored.id === String(this.nextId))) {
            this.nextId += 1;
        }
        const id = String(this.nextId);
        this.nextId += 1;
        this.stored.push({
            type: draft.type, id, externalId, voided: false, fields: clone(draft.fields), sublists: clone(draft.sublists),
            lastModified: this.stamp(), total,
        });
        return Number(id); // NetSuite answers the new internal id as a number
    }

    compileFilter(type, expression) {
        if (!Array.isArray(expression)) {
            throw suiteScriptError('SSS_INVALID_SRCH_FILTER_EXPR', 'A filter expression must be an array.');
        }
        if (Array.isArray(expression[0])) {
            const terms = expression.filter((part) => {
                if (typeof part === 'string' && part.toUpperCase() !== 'AND') {
                    throw suiteScriptError('SSS_INVALID_SRCH_FILTER_EXPR', `The fake only joins filters with AND, not ${part}.`);
                }
                return Array.isArray(part);
            }).map((part) => this.compileFilter(type, part));
            return (stored) => terms.every((term) => term(stored));
        }
        const [name, operator, ...rest] = expression;
        const values = rest.flat().map(String);
        const invalid = () => suiteScriptError('SSS_INVALID_SRCH_FILTER', `An nlobjSearchFilter contains invalid search criteria: ${name} ${operator}.`);
        if (name === 'externalid' && ['anyof', 'is'].includes(operator)) {
            return (stored) => values.includes(String(stored.externalId));
        }
        if (name === 'internalid' && operator === 'anyof') {
            return (stored) => values.includes(stored.id);
        }
        if (name === 'mainline' && operator === 'is' && isTransaction(type)) {
            return () => values[0] === 'T';
        }
        throw invalid();
    }

    resultRow(stored, columns) {
        const valueOf = (column) => {
            const name = typeof column === 'string' ? column : column.name;
            if (!columns.includes(name)) {
                return null;
            }
            return { internalid: stored.id, externalid: stored.externalId, voided: stored.voided }[name];
        };
        return { id: stored.id, recordType: stored.type, getValue: valueOf, getText: (column) => String(valueOf(column)) };
    }

    createSearch(options) {
        requireArguments('search.create', options, ['type']);
        const predicate = this.compileFilter(options.type, options.filters || []);
        const columns = (options.columns || []).map((column) => (typeof column === 'string' ? column : column.name));
        columns.forEach((column) => {
            if (!SEARCH_COLUMNS.has(column) || (column === 'voided' && !isTransaction(options.type))) {
                throw suiteScriptError('SSS_INVALID_SRCH_COL', `An nlobjSearchColumn contains an invalid column: ${column}.`);
            }
        });
        const run = () => {
            this.charge(UNITS.search, `search(${options.type})`);
            this.clockMs += this.latencyMs.search;
            return this.stored.filter((stored) => stored.type === options.type && predicate(stored))
                .map((stored) => this.resultRow(stored, columns));
        };
        return {
            searchType: options.type,
            run: () => ({
                getRange: ({ start, end }) => run().slice(start, end),
                each: (callback) => {
                    run().every((row) => callback(row) !== false);
                },
            }),
        };
    }

    voidTransaction(options) {
        requireArguments('transaction.void', options, ['type', 'id']);
        this.charge(UNITS.void, `transaction.void(${options.type})`);
        this.clockMs += this.latencyMs.void;
        if (!isTransaction(options.type)) {
            throw suiteScriptError('INVALID_RECORD_TYPE', 'The type argument passed is not valid or the record type is not voidable.');
        }
        const stored = this.stored.find((candidate) => candidate.type === options.type && candidate.id === String(options.id));
        if (!stored) {
            throw suiteScriptError('THAT_RECORD_DOES_NOT_EXIST', 'The id argument passed is not valid.');
        }
        if (stored.voided) {
            // Fake-only code: the RESTlet must not void twice, it checks `voided` first.
            throw suiteScriptError('FAKE_ALREADY_VOIDED', 'This transaction has already been voided.');
        }
        stored.voided = true;
        stored.lastModified = this.stamp();
        return Number(stored.id);
    }

    // ---- N/query: the two SuiteQL queries of the payments listing -------------------------

    /** The invoice with this id when it carries a Lago id (custbody_lago_id), else undefined. */
    lagoInvoice(id) {
        return this.stored.find((stored) => stored.type === 'invoice' && stored.id === String(id)
            && stored.fields.custbody_lago_id);
    }

    appliedRows(stored) {
        return (stored.sublists.apply || []).filter((row) => row.apply === true && this.lagoInvoice(row.doc));
    }

    /**
     * Answers the listing's queries as NetSuite would (10 units each): the page query (it ends
     * with ROWNUM <= ?) with params [since, cursor stamp, cursor stamp, cursor id, limit], the
     * applications query with the page's ids. The SQL text itself is not interpreted.
     */
    runSuiteQL(options) {
        requireArguments('query.runSuiteQL', options, ['query']);
        this.charge(10, 'query.runSuiteQL');
        const params = options.params || [];
        let rows;
        if (/ROWNUM <= \?\s*$/.test(options.query)) {
            const [since, stamp, , afterId, limit] = params;
            const isoDate = (value) => (value instanceof Date
                ? `${value.getFullYear()}-${String(value.getMonth() + 1).padStart(2, '0')}-${String(value.getDate()).padStart(2, '0')}`
                : null);
            rows = this.stored
                .filter((stored) => ['customerpayment', 'creditmemo'].includes(stored.type)
                    && stored.lastModified >= since
                    && (stored.lastModified > stamp || (stored.lastModified === stamp && Number(stored.id) > Number(afterId)))
                    && (stored.voided || this.appliedRows(stored).length > 0))
                .sort((a, b) => (a.lastModified < b.lastModified ? -1 : a.lastModified > b.lastModified ? 1
                    : Number(a.id) - Number(b.id)))
                .slice(0, limit)
                .map((stored) => ({
                    id: Number(stored.id), type: stored.type, tranid: stored.fields.tranid || null,
                    trandate: isoDate(stored.fields.trandate), currency: stored.fields.currency === undefined ? null : Number(stored.fields.currency),
                    lastmodified: stored.lastModified, voided: stored.voided ? 'T' : 'F', externalid: stored.externalId || null,
                }));
        } else {
            const ids = params.map(String);
            rows = this.stored.filter((stored) => ids.includes(stored.id)).flatMap((stored) => this.appliedRows(stored)
                .map((row) => ({
                    payment: Number(stored.id), doc: Number(row.doc), docexternalid: this.lagoInvoice(row.doc).externalId,
                    amount: Number(row.amount),
                })));
        }
        return { asMappedResults: () => rows.map((row) => ({ ...row })) };
    }

    // ---- the HTTP side of a RESTlet call ---------------------------------------------------

    /**
     * Runs one RESTlet call as NetSuite does: a fresh allowance of units and a clock from 0, the
     * returned object serialised as JSON with HTTP 200, a thrown SuiteScriptError answered as
     * HTTP 400 {"error": {code, message}}.
     */
    call(entryPoint, argument) {
        this.used = 0;
        this.clockMs = 0;
        this.exhausted = false;
        const clock = jest.spyOn(Date, 'now').mockImplementation(() => this.clockMs);
        let response;
        try {
            const restlet = require(RESTLET);
            response = { status: 200, body: JSON.parse(JSON.stringify(restlet[entryPoint](argument))) };
        } catch (thrown) {
            if (!thrown || thrown.type !== 'error.SuiteScriptError') {
                throw thrown;
            }
            response = { status: 400, body: { error: { code: thrown.name, message: thrown.message } } };
        } finally {
            clock.mockRestore();
        }
        if (this.exhausted) {
            throw new Error(`The RESTlet ran past its ${this.usageLimit} usage units; NetSuite would have killed the call.`);
        }
        return response;
    }

    post(body) {
        return this.call('post', body);
    }

    get(query) {
        return this.call('get', { script: 'customscript_lago_netsuite_sync', deploy: 'customdeploy_lago_netsuite_sync', ...query });
    }
}

function logTo(account, level) {
    return (options, details) => {
        const entry = options !== null && typeof options === 'object' ? options : { title: options, details };
        account.logs.push({
            level,
            title: String(entry.title),
            details: typeof entry.details === 'string' ? entry.details : JSON.stringify(entry.details),
        });
    };
}

/**
 * Gives the automatic mocks of N/error, N/log, N/record, N/runtime, N/search and N/transaction
 * a fresh in-memory account and returns it.
 *
 * setup: usageLimit (units per call, default 5000); records [{type, id, externalId, voided?,
 * fields?}] that already exist; items / currencies / subsidiaries, the valid reference keys
 * (absent: any key is valid); parameters {custscript_...: value}; latencyMs {save, search, void}
 * of fake clock time each call takes; fieldTypes {fieldId: 'date' | 'select' | ...} of the
 * account's custom fields; requiredFields {recordType: [fieldId | 'item.<fieldId>']}, refused at
 * save with USER_ERROR "Please enter value(s) for: Department" unless ignoreMandatoryFields.
 */
function install(setup = {}) {
    const account = new FakeAccount(setup);
    error.create.mockImplementation((options) => suiteScriptError(options.name, options.message));
    ['debug', 'audit', 'error', 'emergency'].forEach((level) => log[level].mockImplementation(logTo(account, level)));
    runtime.getCurrentScript.mockImplementation(() => ({
        id: 'customscript_lago_netsuite_sync',
        deploymentId: 'customdeploy_lago_netsuite_sync',
        getRemainingUsage: () => account.remainingUsage(),
        getParameter: ({ name }) => (has(account.parameters, name) ? account.parameters[name] : null),
    }));
    record.create.mockImplementation((options) => account.createRecord(options));
    record.load.mockImplementation((options) => account.loadRecord(options));
    search.create.mockImplementation((options) => account.createSearch(options));
    transaction.void.mockImplementation((options) => account.voidTransaction(options));
    query.runSuiteQL.mockImplementation((options) => account.runSuiteQL(options));
    return account;
}

module.exports = { install, suiteScriptError };
