// A record being built, as the fake record.create returns it: body fields, sublists and the
// standard / dynamic mode rules of NetSuite's Record object (see fakeNetSuite.js).
const APPLYING_TYPES = new Set(['creditmemo', 'customerpayment', 'customerrefund']);
const has = (object, key) => Object.prototype.hasOwnProperty.call(object, key);
const DATE_FIELDS = new Set(['trandate', 'duedate', 'custcol_service_period_date_from', 'custcol_service_period_date_to']);

/** What NetSuite throws: a SuiteScriptError is a plain object, not an Error. */
function suiteScriptError(name, message) {
    return {
        type: 'error.SuiteScriptError',
        id: '',
        name,
        message,
        stack: [],
        notifyOff: false,
        toString: () => `${name}: ${message}`,
        toJSON: () => ({ type: 'error.SuiteScriptError', name, message }),
    };
}

function requireArguments(method, options, names) {
    names.forEach((name) => {
        if (!options || options[name] === undefined) {
            throw suiteScriptError('SSS_MISSING_REQD_ARGUMENT', `${method}: Missing a required argument: ${name}`);
        }
    });
}

/** A record being built, as record.create returns it, in standard or dynamic mode. */
class FakeRecord {
    constructor(account, type, isDynamic, defaultValues) {
        this.account = account;
        this.type = type;
        this.isDynamic = isDynamic === true;
        this.fields = {};
        this.sublists = {};
        this.current = {};
        this.trace = [];
        Object.entries(defaultValues || {}).forEach(([fieldId, value]) => {
            // A payment initialised with its customer holds it in its `customer` field.
            const onCustomer = type === 'customerpayment' || type === 'customerrefund';
            this.fields[fieldId === 'entity' && onCustomer ? 'customer' : fieldId] = value;
        });
        if (APPLYING_TYPES.has(type) && defaultValues && defaultValues.entity !== undefined) {
            this.loadApplyList(defaultValues.entity);
        }
    }

    /** The customer's open invoices, as NetSuite lists them once the record knows the customer. */
    loadApplyList(customer) {
        this.sublists.apply = this.account.applyList(this.type, customer);
    }

    requireMode(method, dynamic) {
        if (this.isDynamic !== dynamic) {
            throw suiteScriptError('SSS_INVALID_API_USAGE', `${method} is a ${dynamic ? 'dynamic' : 'standard'} mode method.`);
        }
    }

    /** The field's type: `setup.fieldTypes` names the account's custom ones ({fieldId: 'date'}). */
    fieldType(fieldId) {
        const types = this.account.fieldTypes || {};
        return has(types, fieldId) ? types[fieldId] : DATE_FIELDS.has(fieldId) ? 'date' : 'text';
    }

    /** Field metadata, as Record.getField returns it (only `id` and `type` are modelled). */
    getField(options) {
        requireArguments('Record.getField', options, ['fieldId']);
        return { id: options.fieldId, type: this.fieldType(options.fieldId) };
    }

    /** A sublist's metadata, as Record.getSublist returns it: `getField` types its columns. */
    getSublist(options) {
        requireArguments('Record.getSublist', options, ['sublistId']);
        return { id: options.sublistId, getField: ({ fieldId }) => ({ id: fieldId, type: this.fieldType(fieldId) }) };
    }

    checkValue(fieldId, value) {
        const isObject = value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Date);
        if (isObject || (this.fieldType(fieldId) === 'date' && !(value instanceof Date))) {
            throw suiteScriptError('INVALID_FLD_VALUE',
                `You have entered an Invalid Field Value ${value} for the following field: ${fieldId}`);
        }
    }

    rows(sublistId) {
        if (!this.sublists[sublistId]) {
            this.sublists[sublistId] = [];
        }
        return this.sublists[sublistId];
    }

    setValue(options) {
        requireArguments('Record.setValue', options, ['fieldId', 'value']);
        this.checkValue(options.fieldId, options.value);
        this.fields[options.fieldId] = options.value;
        this.trace.push(`body:${options.fieldId}`);
        if (this.isDynamic && APPLYING_TYPES.has(this.type) && ['entity', 'customer'].includes(options.fieldId)) {
            this.loadApplyList(options.value);
        }
        return this;
    }

    getValue(options) {
        return this.fields[options.fieldId];
    }

    getLineCount(options) {
        return this.rows(options.sublistId).length;
    }

    getSublistValue(options) {
        const row = this.rows(options.sublistId)[options.line];
        return row ? row[options.fieldId] : undefined;
    }

    findSublistLineWithValue(options) {
        requireArguments('Record.findSublistLineWithValue', options, ['sublistId', 'fieldId']);
        return this.rows(options.sublistId).findIndex((row) => String(row[options.fieldId]) === String(options.value));
    }

    setSublistValue(options) {
        requireArguments('Record.setSublistValue', options, ['sublistId', 'fieldId', 'line', 'value']);
        this.requireMode('Record.setSublistValue', false);
        const rows = this.rows(options.sublistId);
        const { line } = options;
        const appends = line === rows.length;
        if (!Number.isInteger(line) || line < 0 || line > rows.length || (appends && options.sublistId === 'apply')) {
            throw suiteScriptError('SSS_INVALID_SUBLIST_OPERATION', `Invalid line ${line} on sublist ${options.sublistId}.`);
        }
        this.checkValue(options.fieldId, options.value);
        if (appends) {
            rows.push({});
        }
        rows[line][options.fieldId] = options.value;
        this.trace.push(`${options.sublistId}[${line}]:${options.fieldId}`);
        return this;
    }

    selectNewLine(options) {
        this.requireMode('Record.selectNewLine', true);
        if (options.sublistId === 'apply') {
            throw suiteScriptError('SSS_INVALID_SUBLIST_OPERATION', 'Lines cannot be added to the apply sublist.');
        }
        this.current[options.sublistId] = { line: this.rows(options.sublistId).length, values: {}, isNew: true };
        return this;
    }

    selectLine(options) {
        this.requireMode('Record.selectLine', true);
        const rows = this.rows(options.sublistId);
        if (!Number.isInteger(options.line) || options.line < 0 || options.line >= rows.length) {
            throw suiteScriptError('SSS_INVALID_SUBLIST_OPERATION', `Invalid line ${options.line} on sublist ${options.sublistId}.`);
        }
        this.current[options.sublistId] = { line: options.line, values: { ...rows[options.line] }, isNew: false };
        return this;
    }

    setCurrentSublistValue(options) {
        requireArguments('Record.setCurrentSublistValue', options, ['sublistId', 'fieldId', 'value']);
        this.requireMode('Record.setCurrentSublistValue', true);
        const selected = this.current[options.sublistId];
        if (!selected) {
            throw suiteScriptError('SSS_INVALID_SUBLIST_OPERATION', `No line selected on sublist ${options.sublistId}.`);
        }
        this.checkValue(options.fieldId, options.value);
        selected.values[options.fieldId] = options.value;
        this.trace.push(`${options.sublistId}[${selected.line}]:${options.fieldId}`);
        return this;
    }

    commitLine(options) {
        this.requireMode('Record.commitLine', true);
        const selected = this.current[options.sublistId];
        if (!selected) {
            throw suiteScriptError('SSS_INVALID_SUBLIST_OPERATION', `No line selected on sublist ${options.sublistId}.`);
        }
        const rows = this.rows(options.sublistId);
        if (selected.isNew) {
            rows.push(selected.values);
        } else {
            rows[selected.line] = selected.values;
        }
        delete this.current[options.sublistId];
        return this;
    }

    save(options) {
        return this.account.saveRecord(this, options || {});
    }
}

module.exports = { FakeRecord, requireArguments, suiteScriptError };
