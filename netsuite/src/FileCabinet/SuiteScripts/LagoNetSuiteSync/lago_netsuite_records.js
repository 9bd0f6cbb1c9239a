/**
 * Record writes for the Lago → NetSuite RESTlet: look records up by externalid, create them, void
 * them, and answer one plain result object per record as the RESTlet contract
 * (docs/restlet-contract.md) describes.
 *
 * @NApiVersion 2.1
 * @NModuleScope SameAccount
 */
define(['N/error', 'N/record', 'N/search', 'N/transaction'], (error, record, search, transaction) => {
    'use strict';

    /** The record types the contract allows; only transactions can be voided. */
    const RECORD_TYPES = Object.freeze({
        customer: { transaction: false },
        invoice: { transaction: true },
        salesorder: { transaction: true },
        creditmemo: { transaction: true },
        customerpayment: { transaction: true },
        customerrefund: { transaction: true },
    });
    const ACTIONS = ['create', 'void', 'apply'];

    const APPLY_SUBLIST = 'apply';
    // Set first, in this order: in dynamic mode the customer sources currency, subsidiary and the
    // apply list, and the tax override flags must be on before tax detail lines are added.
    const LEADING_BODY_FIELDS = ['customform', 'entity', 'customer', 'subsidiary', 'currency', 'nexus',
        'taxdetailsoverride', 'taxregoverride'];
    // The legacy tax total is set after the lines, or adding a line recalculates it away.
    const AFTER_LINES_BODY_FIELDS = ['taxamountoverride'];
    // The payment amount is set once the invoices are applied, so nothing auto-applies it first.
    const AFTER_APPLY_BODY_FIELDS = ['payment'];
    // On a line, the item sources rate and description; the explicit amount is set last so it wins.
    const LEADING_LINE_FIELDS = ['item', 'apply'];
    const TRAILING_LINE_FIELDS = ['amount'];
    const DATE_TEXT = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/;
    const SEARCH_PAGE = 1000;

    const hasOwn = (object, key) => Object.prototype.hasOwnProperty.call(object, key);
    const isPlainObject = (value) => value !== null && typeof value === 'object' && !Array.isArray(value);

    /** Whether `type` is one of the record types the RESTlet writes. */
    function isKnownType(type) {
        return typeof type === 'string' && hasOwn(RECORD_TYPES, type);
    }

    /** The supported types, for messages. */
    function knownTypes() {
        return Object.keys(RECORD_TYPES).join(', ');
    }

    /** A SuiteScript error with a NetSuite-style code; thrown inside, answered as a plain object. */
    function failure(code, message) {
        return error.create({ name: code, message, notifyOff: true });
    }

    /** A short, printable form of a value the request sent, for error messages. */
    function shown(value) {
        const text = typeof value === 'string' ? value : JSON.stringify(value);
        return text === undefined ? 'undefined' : text.length > 60 ? `${text.slice(0, 57)}...` : text;
    }

    /**
     * The `{code, message}` of a caught error as plain data: a thrown SuiteScriptError (or Error)
     * does not serialise into the response, its fields have to be copied out.
     */
    function resultError(caught) {
        const type = caught && typeof caught.type === 'string' ? caught.type : '';
        if (type.indexOf('error.') === 0 && typeof caught.name === 'string') {
            return { code: caught.name, message: String(caught.message) };
        }
        const message = caught && caught.message !== undefined ? caught.message : caught;
        return { code: 'UNEXPECTED_ERROR', message: String(message) };
    }

    /**
     * One entry of `results`: the externalId as sent (null when absent), ids as strings, `error`
     * null unless the record failed or waits.
     */
    function result(externalId, status, id, resultErr) {
        return {
            externalId: externalId === undefined ? null : externalId,
            status,
            id: id === null || id === undefined ? null : String(id),
            error: resultErr || null,
        };
    }

    /** The answer for a record the call did not attempt because it ran low on units or time. */
    function deferredResult(rec, message) {
        const externalId = isPlainObject(rec) ? rec.externalId : null;
        return result(externalId, 'deferred', null, { code: 'SSS_USAGE_LIMIT_EXCEEDED', message });
    }

    /**
     * The records of `type` whose externalid is one of `externalIds`, as {externalId, id, voided}.
     * One search (10 usage units) for up to 100 ids.
     */
    function searchByExternalIds(type, externalIds) {
        const isTransaction = RECORD_TYPES[type].transaction;
        const filters = [['externalid', search.Operator.ANYOF, externalIds]];
        const columns = ['externalid'];
        if (isTransaction) {
            // A transaction search returns one row per line unless it is limited to the main line.
            filters.push('AND', ['mainline', search.Operator.IS, 'T']);
            columns.push('voided');
        }
        return search.create({ type, filters, columns }).run().getRange({ start: 0, end: SEARCH_PAGE })
            .map((row) => {
                const voided = isTransaction ? row.getValue({ name: 'voided' }) : false;
                return {
                    externalId: String(row.getValue({ name: 'externalid' })),
                    id: String(row.id),
                    voided: voided === true || voided === 'T',
                };
            });
    }

    /** The records found for `externalIds`, keyed by externalid (for GET). */
    function findByExternalIds(type, externalIds) {
        const found = new Map();
        searchByExternalIds(type, externalIds).forEach((row) => {
            if (!found.has(row.externalId)) {
                found.set(row.externalId, row);
            }
        });
        return found;
    }

    /** The record of `type` with this externalid, or undefined: the search matches it alone. */
    function findOne(type, externalId) {
        return searchByExternalIds(type, [externalId])[0];
    }

    /** The action of a record after checking its shape; throws INVALID_FLD_VALUE / INVALID_RCRD_TYPE. */
    function checkedAction(rec) {
        if (!isPlainObject(rec)) {
            throw failure('INVALID_FLD_VALUE', 'Each entry of records must be a JSON object.');
        }
        if (typeof rec.externalId !== 'string' || rec.externalId === '') {
            throw failure('INVALID_FLD_VALUE', 'externalId is required and must be a non-empty string.');
        }
        if (!isKnownType(rec.type)) {
            throw failure('INVALID_RCRD_TYPE', `Unknown record type ${shown(rec.type)}; use one of ${knownTypes()}.`);
        }
        const action = rec.action === undefined || rec.action === null ? 'create' : rec.action;
        if (ACTIONS.indexOf(action) < 0) {
            throw failure('INVALID_FLD_VALUE', `Unknown action ${shown(action)}; use create, void or apply.`);
        }
        if (action === 'create') {
            checkBody(rec);
        }
        if (action === 'apply') {
            checkApply(rec);
        }
        return action;
    }

    function checkBody(rec) {
        if (rec.columns !== undefined && !isPlainObject(rec.columns)) {
            throw failure('INVALID_FLD_VALUE', 'columns must be a JSON object.');
        }
        if (rec.options !== undefined && !isPlainObject(rec.options)) {
            throw failure('INVALID_FLD_VALUE', 'options must be a JSON object.');
        }
        if (rec.isDynamic !== undefined && typeof rec.isDynamic !== 'boolean') {
            throw failure('INVALID_FLD_VALUE', 'isDynamic must be true or false.');
        }
        ['lines', 'taxdetails'].forEach((key) => {
            if (rec[key] === undefined) {
                return;
            }
            const groups = rec[key];
            const valid = Array.isArray(groups) && groups.every((group) => isPlainObject(group)
                && typeof group.sublistId === 'string' && group.sublistId !== ''
                && Array.isArray(group.lineItems) && group.lineItems.every(isPlainObject));
            if (!valid) {
                throw failure('INVALID_FLD_VALUE', `${key} must be a list of {sublistId, lineItems: [objects]}.`);
            }
        });
        (rec.lines || []).filter((group) => group.sublistId === APPLY_SUBLIST).forEach((group) => {
            group.lineItems.forEach((line, index) => {
                if (typeof line.doc !== 'string' && typeof line.doc !== 'number') {
                    throw failure('INVALID_FLD_VALUE', `apply line ${index} has no doc (the internal id of the invoice).`);
                }
            });
        });
    }

    /**
     * The type NetSuite gives a field ('date', 'select', 'text', ...), or '' when the record cannot
     * say: mapped custom fields (custbody_..., custcol_...) are typed by the account, not by name.
     */
    function bodyFieldType(draft, fieldId) {
        try {
            const field = draft.getField({ fieldId });
            return field && field.type ? String(field.type) : '';
        } catch (caught) {
            return '';
        }
    }

    function lineFieldType(draft, sublistId, fieldId) {
        try {
            const sublist = draft.getSublist({ sublistId });
            const field = sublist ? sublist.getField({ fieldId }) : null;
            return field && field.type ? String(field.type) : '';
        } catch (caught) {
            return '';
        }
    }

    /**
     * A request value as NetSuite's setValue wants it: `M/D/YYYY` text in a date field (a field
     * whose id says so, or whose type the record gives as date) becomes a Date — setValue refuses
     * date text; select fields take the internal id as sent. An object left in the body (an
     * unresolved `{"$ref": ...}`) is refused rather than written. `typeOf` is asked only for
     * date-like text.
     */
    function fieldValue(fieldId, value, typeOf) {
        if (isPlainObject(value)) {
            throw failure('INVALID_FLD_VALUE', `Field ${fieldId} holds an object (${shown(value)}), not a value.`);
        }
        if (typeof value === 'string' && DATE_TEXT.test(value)
            && (fieldId.indexOf('date') >= 0 || (typeOf !== undefined && typeOf(fieldId) === 'date'))) {
            const parts = DATE_TEXT.exec(value);
            if (parts) {
                const [month, day, year] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
                const date = new Date(year, month - 1, day);
                if (date.getFullYear() !== year || date.getMonth() !== month - 1 || date.getDate() !== day) {
                    throw failure('INVALID_FLD_VALUE', `Field ${fieldId} holds ${value}, which is not a date.`);
                }
                return date;
            }
        }
        return value;
    }

    /** Field ids of `values` with the `leading` ones first (in that order) and `trailing` ones last. */
    function orderedFields(values, leading, trailing) {
        const keys = Object.keys(values);
        const first = leading.filter((key) => hasOwn(values, key));
        const last = trailing.filter((key) => hasOwn(values, key));
        const middle = keys.filter((key) => first.indexOf(key) < 0 && last.indexOf(key) < 0);
        return first.concat(middle, last);
    }

    function setBodyFields(draft, body, fieldIds) {
        const typeOf = (fieldId) => bodyFieldType(draft, fieldId);
        fieldIds.forEach((fieldId) => {
            draft.setValue({ fieldId, value: fieldValue(fieldId, body[fieldId], typeOf) });
        });
    }

    function setLineFields(draft, sublistId, line, values, fieldIds, isDynamic) {
        const typeOf = (fieldId) => lineFieldType(draft, sublistId, fieldId);
        fieldIds.forEach((fieldId) => {
            const value = fieldValue(fieldId, values[fieldId], typeOf);
            if (isDynamic) {
                draft.setCurrentSublistValue({ sublistId, fieldId, value });
            } else {
                draft.setSublistValue({ sublistId, fieldId, line, value });
            }
        });
    }

    /** Adds every line of `group` (item, taxdetails, ...) after the lines the sublist already has. */
    function appendLines(draft, group, isDynamic) {
        const sublistId = group.sublistId;
        group.lineItems.forEach((values) => {
            const fieldIds = orderedFields(values, LEADING_LINE_FIELDS, TRAILING_LINE_FIELDS);
            if (isDynamic) {
                draft.selectNewLine({ sublistId });
                setLineFields(draft, sublistId, null, values, fieldIds, true);
                draft.commitLine({ sublistId });
            } else {
                setLineFields(draft, sublistId, draft.getLineCount({ sublistId }), values, fieldIds, false);
            }
        });
    }

    /**
     * Applies the record to invoices: the apply list is NetSuite's (the customer's open
     * documents), so each requested `doc` is found in it and marked, never added.
     */
    function applyLines(draft, group, isDynamic) {
        group.lineItems.forEach((values) => {
            const doc = String(values.doc);
            let line = draft.findSublistLineWithValue({ sublistId: APPLY_SUBLIST, fieldId: 'doc', value: doc });
            if (line < 0) {
                line = draft.findSublistLineWithValue({ sublistId: APPLY_SUBLIST, fieldId: 'internalid', value: doc });
            }
            if (line < 0) {
                throw failure('INVALID_KEY_OR_REF', `Invalid doc reference key ${doc}.`);
            }
            const fields = orderedFields(values, LEADING_LINE_FIELDS, TRAILING_LINE_FIELDS)
                .filter((fieldId) => fieldId !== 'doc');
            if (isDynamic) {
                draft.selectLine({ sublistId: APPLY_SUBLIST, line });
                setLineFields(draft, APPLY_SUBLIST, line, values, fields, true);
                draft.commitLine({ sublistId: APPLY_SUBLIST });
            } else {
                setLineFields(draft, APPLY_SUBLIST, line, values, fields, false);
            }
        });
    }

    /** Creates and saves the record a create action describes; returns the new internal id. */
    function saveNewRecord(rec) {
        const body = Object.assign({}, rec.columns);
        const isDynamic = rec.isDynamic === true;
        const groups = rec.lines || [];
        const applyGroups = groups.filter((group) => group.sublistId === APPLY_SUBLIST);
        const lineGroups = groups.filter((group) => group.sublistId !== APPLY_SUBLIST)
            .concat(rec.taxdetails || []);
        if ((rec.taxdetails || []).some((group) => group.lineItems.length > 0) && !hasOwn(body, 'taxdetailsoverride')) {
            body.taxdetailsoverride = true;
        }

        // The apply list holds the customer's open invoices only once the record knows the
        // customer, so a record that applies is initialised with it (standard and dynamic mode).
        const createOptions = { type: rec.type, isDynamic };
        const customer = hasOwn(body, 'entity') ? body.entity : body.customer;
        const initialised = [];
        if (applyGroups.length > 0 && customer !== undefined && customer !== null && customer !== '') {
            createOptions.defaultValues = { entity: customer };
            ['entity', 'customer'].forEach((fieldId) => {
                if (hasOwn(body, fieldId) && String(body[fieldId]) === String(customer)) {
                    initialised.push(fieldId);
                }
            });
        }
        const draft = record.create(createOptions);
        draft.setValue({ fieldId: 'externalid', value: rec.externalId });

        const late = AFTER_LINES_BODY_FIELDS.concat(AFTER_APPLY_BODY_FIELDS);
        setBodyFields(draft, body, orderedFields(body, LEADING_BODY_FIELDS, [])
            .filter((fieldId) => late.indexOf(fieldId) < 0 && initialised.indexOf(fieldId) < 0));
        lineGroups.forEach((group) => appendLines(draft, group, isDynamic));
        setBodyFields(draft, body, AFTER_LINES_BODY_FIELDS.filter((fieldId) => hasOwn(body, fieldId)));
        applyGroups.forEach((group) => applyLines(draft, group, isDynamic));
        setBodyFields(draft, body, AFTER_APPLY_BODY_FIELDS.filter((fieldId) => hasOwn(body, fieldId)));

        const options = rec.options || {};
        return draft.save({
            enableSourcing: options.enableSourcing !== false,
            ignoreMandatoryFields: options.ignoreMandatoryFields === true,
        });
    }

    function createRecord(rec) {
        const existing = findOne(rec.type, rec.externalId);
        if (existing) {
            return result(rec.externalId, 'existing', existing.id, null);
        }
        return result(rec.externalId, 'created', saveNewRecord(rec), null);
    }

    /** Voids the record with this externalid; a record already voided answers voided again. */
    function voidRecord(rec) {
        if (!RECORD_TYPES[rec.type].transaction) {
            throw failure('INVALID_RCRD_TYPE', `A ${rec.type} record cannot be voided; only transactions can.`);
        }
        const found = findOne(rec.type, rec.externalId);
        if (!found) {
            throw failure('RCRD_DSNT_EXIST', `That record does not exist: no ${rec.type} has externalId ${rec.externalId}.`);
        }
        if (!found.voided) {
            // Returns the voided record's id, or the reversing journal's when the account voids
            // by journal; the loader records the document's own id either way.
            transaction.void({ type: rec.type, id: found.id });
        }
        return result(rec.externalId, 'voided', found.id, null);
    }

    // ---- contract 2: applying an existing credit memo to an invoice (action "apply") ----------

    // Amounts compared in millionths: exact for every currency's decimals, free of float noise.
    const micro = (value) => Math.round(Number(value) * 1e6);

    function checkApply(rec) {
        if (rec.type !== 'creditmemo') {
            throw failure('INVALID_RCRD_TYPE', `Only a creditmemo can be applied, not ${shown(rec.type)}.`);
        }
        if (typeof rec.memoExternalId !== 'string' || rec.memoExternalId === '') {
            throw failure('INVALID_FLD_VALUE', 'memoExternalId is required to apply a credit memo.');
        }
        checkBody(rec);
        const rows = applyRows(rec);
        if (rows.length === 0) {
            throw failure('INVALID_FLD_VALUE', 'An apply needs one apply line {doc, apply, amount}.');
        }
        rows.forEach((line) => {
            if (typeof line.amount !== 'number' || !(line.amount >= 0)) {
                throw failure('INVALID_FLD_VALUE', `Invalid number ${shown(line.amount)} for field amount.`);
            }
        });
    }

    function applyRows(rec) {
        return (rec.lines || []).filter((group) => group.sublistId === APPLY_SUBLIST)
            .reduce((rows, group) => rows.concat(group.lineItems), []);
    }

    /**
     * Sets the memo's apply line for each invoice to exactly the amount asked (a state, not an
     * increment): already so answers `existing`; more than is due on the invoice or than remains
     * on the memo is refused with USER_ERROR; an invoice not in the memo's apply list (another
     * customer's, voided, paid) with INVALID_KEY_OR_REF.
     */
    function applyMemo(rec) {
        const memo = findOne('creditmemo', rec.memoExternalId);
        if (!memo) {
            throw failure('RCRD_DSNT_EXIST', `That record does not exist: no creditmemo has externalId ${rec.memoExternalId}.`);
        }
        const draft = record.load({ type: 'creditmemo', id: memo.id, isDynamic: false });
        const changes = [];
        let delta = 0;
        applyRows(rec).forEach((values) => {
            const doc = String(values.doc);
            let line = draft.findSublistLineWithValue({ sublistId: APPLY_SUBLIST, fieldId: 'doc', value: doc });
            if (line < 0) {
                line = draft.findSublistLineWithValue({ sublistId: APPLY_SUBLIST, fieldId: 'internalid', value: doc });
            }
            if (line < 0) {
                throw failure('INVALID_KEY_OR_REF', `Invalid doc reference key ${doc}.`);
            }
            const applied = draft.getSublistValue({ sublistId: APPLY_SUBLIST, fieldId: 'apply', line }) === true;
            const current = applied ? micro(draft.getSublistValue({ sublistId: APPLY_SUBLIST, fieldId: 'amount', line })) : 0;
            const wanted = micro(values.amount);
            if (wanted === current) {
                return;
            }
            const dueValue = draft.getSublistValue({ sublistId: APPLY_SUBLIST, fieldId: 'due', line });
            if (dueValue !== undefined && dueValue !== null && dueValue !== '' && wanted > micro(dueValue) + current) {
                throw failure('USER_ERROR', `The amount ${values.amount} exceeds what is due on invoice ${doc}.`);
            }
            delta += wanted - current;
            changes.push({ line, amount: values.amount });
        });
        if (changes.length === 0) {
            return result(rec.externalId, 'existing', memo.id, null);
        }
        const unapplied = draft.getValue({ fieldId: 'unapplied' });
        if (unapplied !== undefined && unapplied !== null && unapplied !== '' && delta > micro(unapplied)) {
            throw failure('USER_ERROR', `The amount exceeds what remains on credit memo ${memo.id}.`);
        }
        changes.forEach(({ line, amount }) => {
            draft.setSublistValue({ sublistId: APPLY_SUBLIST, fieldId: 'apply', line, value: amount > 0 });
            draft.setSublistValue({ sublistId: APPLY_SUBLIST, fieldId: 'amount', line, value: amount });
        });
        draft.save({ enableSourcing: true, ignoreMandatoryFields: false });
        return result(rec.externalId, 'applied', memo.id, null);
    }

    /**
     * Writes one record of a POST batch and answers its result; never throws, so one refused
     * record does not stop the others.
     */
    function writeRecord(rec) {
        try {
            const action = checkedAction(rec);
            if (action === 'apply') {
                return applyMemo(rec);
            }
            return action === 'void' ? voidRecord(rec) : createRecord(rec);
        } catch (caught) {
            return result(isPlainObject(rec) ? rec.externalId : null, 'failed', null, resultError(caught));
        }
    }

    return {
        deferredResult,
        findByExternalIds,
        isKnownType,
        knownTypes,
        writeRecord,
    };
});
