/**
 * The RESTlet lago-netsuite-sync loads Lago billing documents through (docs/restlet-contract.md).
 *
 * POST writes a batch of records and voids, each found by externalid before it is created, and
 * answers one result per record in request order. Before each record it checks the remaining
 * usage units and time: when either runs low, that record and every later one answer `deferred`
 * so the loader sends them again in a later call, instead of NetSuite killing the call half way.
 *
 * GET looks records up: ?type=invoice&externalIds=lago-invoice-1,lago-invoice-2 (at most 100).
 * GET ?action=payments&since=&cursor= lists NetSuite payments for the way back to Lago
 * (lago_netsuite_payments.js).
 * GET ?version=1 answers {"contract": 2}: the contract this script speaks, so a loader can refuse
 * to send anything to an older script.
 *
 * A malformed request (not JSON, no records array, too many records or ids) is thrown as an
 * INVALID_REQUEST error: NetSuite answers an uncaught error with HTTP 400 and
 * {"error": {"code", "message"}}. Everything the script answers itself is HTTP 200.
 *
 * @NApiVersion 2.1
 * @NScriptType Restlet
 * @NModuleScope SameAccount
 */
define(['N/error', 'N/log', 'N/runtime', './lago_netsuite_records', './lago_netsuite_payments'], (error, log, runtime, records, payments) => {
    'use strict';

    const BATCH_CAP = 500;
    const LOOKUP_CAP = 100;
    const PARAM_USAGE_RESERVE = 'custscript_lago_usage_reserve';
    const PARAM_TIME_BUDGET = 'custscript_lago_time_budget_s';
    // 100 units cover the largest record (40) twice over; 90 s stays inside the loader's
    // default 120 s HTTP timeout and NetSuite's 300 s RESTlet limit.
    const DEFAULT_USAGE_RESERVE = 100;
    const DEFAULT_TIME_BUDGET_S = 90;
    const LOGGED_IDS = 50;
    const CONTRACT_VERSION = 2;

    /** Rejects the whole request: NetSuite turns the thrown error into HTTP 400. */
    function rejectRequest(message) {
        log.error({ title: 'Lago sync: request rejected', details: `INVALID_REQUEST: ${message}` });
        return error.create({ name: 'INVALID_REQUEST', message, notifyOff: true });
    }

    function integerParameter(script, name, fallback) {
        const raw = script.getParameter({ name });
        const value = raw === null || raw === undefined || raw === '' ? NaN : Number(raw);
        return Number.isInteger(value) && value >= 0 ? value : fallback;
    }

    /**
     * Says, before each record, whether the call still has the units and time to attempt it;
     * returns the deferral message once it has not.
     */
    function budgetGuard(startedAt) {
        const script = runtime.getCurrentScript();
        const reserve = integerParameter(script, PARAM_USAGE_RESERVE, DEFAULT_USAGE_RESERVE);
        const budgetS = integerParameter(script, PARAM_TIME_BUDGET, DEFAULT_TIME_BUDGET_S);
        return {
            remainingUsage: () => script.getRemainingUsage(),
            deferral() {
                const left = script.getRemainingUsage();
                if (left < reserve) {
                    return `Not attempted: ${left} usage units left, below the reserve of ${reserve}; send it again in a later call.`;
                }
                const elapsedS = (Date.now() - startedAt) / 1000;
                if (elapsedS >= budgetS) {
                    return `Not attempted: ${Math.floor(elapsedS)} s spent of a ${budgetS} s budget; send it again in a later call.`;
                }
                return null;
            },
        };
    }

    function batchOf(requestBody) {
        let body = requestBody;
        if (typeof body === 'string') {
            try {
                body = JSON.parse(body);
            } catch (ignored) {
                throw rejectRequest('The request body is not JSON.');
            }
        }
        if (body === null || typeof body !== 'object' || !Array.isArray(body.records)) {
            throw rejectRequest('The request body must be a JSON object with a records array.');
        }
        if (body.records.length > BATCH_CAP) {
            throw rejectRequest(`records holds ${body.records.length} records; at most ${BATCH_CAP} a call.`);
        }
        return body.records;
    }

    function logOutcome(results, remainingUsage) {
        const counts = { created: 0, existing: 0, voided: 0, applied: 0, failed: 0, deferred: 0 };
        results.forEach((entry) => {
            counts[entry.status] += 1;
        });
        const written = results.filter((entry) => ['created', 'voided', 'applied'].indexOf(entry.status) >= 0)
            .slice(0, LOGGED_IDS).map((entry) => `${entry.externalId}=${entry.id}`);
        log.audit({
            title: 'Lago sync: batch written',
            details: JSON.stringify({ records: results.length, ...counts, usageLeft: remainingUsage, written }),
        });
        results.filter((entry) => entry.status === 'failed').forEach((entry) => {
            log.error({ title: 'Lago sync: record failed', details: `${entry.externalId}: ${entry.error.code}` });
        });
    }

    /** POST: writes the batch, answers {results: [...]} in request order. */
    function post(requestBody) {
        const startedAt = Date.now();
        const batch = batchOf(requestBody);
        const guard = budgetGuard(startedAt);
        const results = [];
        let deferral = null;
        batch.forEach((rec) => {
            deferral = deferral || guard.deferral();
            results.push(deferral ? records.deferredResult(rec, deferral) : records.writeRecord(rec));
        });
        logOutcome(results, guard.remainingUsage());
        return { results };
    }

    function lookupOf(requestParams) {
        const params = requestParams || {};
        if (typeof params.type !== 'string' || params.type === '') {
            throw rejectRequest('GET needs a type parameter.');
        }
        if (!records.isKnownType(params.type)) {
            throw rejectRequest(`Unknown type; use one of ${records.knownTypes()}.`);
        }
        const ids = typeof params.externalIds === 'string'
            ? params.externalIds.split(',').map((id) => id.trim()).filter((id) => id !== '')
            : [];
        if (ids.length === 0) {
            throw rejectRequest('GET needs an externalIds parameter: comma-separated externalIds.');
        }
        if (ids.length > LOOKUP_CAP) {
            throw rejectRequest(`externalIds lists ${ids.length} ids; at most ${LOOKUP_CAP} a call.`);
        }
        return { type: params.type, externalIds: ids };
    }

    /** GET: answers existing (with the internal id) or missing for each externalId, in order. */
    function get(requestParams) {
        if (requestParams && requestParams.version !== undefined) {
            return { contract: CONTRACT_VERSION };
        }
        if (requestParams && requestParams.action === 'payments') {
            const page = payments.listPayments(requestParams);
            log.audit({ title: 'Lago sync: payments listed', details: `${page.payments.length} payments, more: ${page.next !== null}` });
            return page;
        }
        const lookup = lookupOf(requestParams);
        const found = records.findByExternalIds(lookup.type, Array.from(new Set(lookup.externalIds)));
        const results = lookup.externalIds.map((externalId) => (found.has(externalId)
            ? { externalId, status: 'existing', id: found.get(externalId).id }
            : { externalId, status: 'missing', id: null }));
        const existing = results.filter((entry) => entry.status === 'existing').length;
        log.audit({ title: 'Lago sync: lookup', details: `${lookup.type}: ${results.length} ids, ${existing} existing` });
        return { results };
    }

    return { get, post };
});
