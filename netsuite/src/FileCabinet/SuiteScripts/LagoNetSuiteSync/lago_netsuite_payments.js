/**
 * The payments listing for the way back to Lago (contract 2, "Listing NetSuite payments"):
 * GET ?action=payments&since=<ISO 8601 UTC>&cursor=<opaque or empty>.
 *
 * Every customer payment and credit memo modified at or after `since` that applies to at least
 * one invoice carrying a Lago id (custbody_lago_id), oldest change first (ties by internal id),
 * at most `custscript_lago_payments_page` (default 200) a page. A voided payment is listed even
 * when NetSuite dropped its applications, so the loader can flag it. The cursor holds the
 * (lastModified, id) of the last payment of the page: a payment changed while a client pages on
 * moves behind the cursor and is listed again on a later page, never lost.
 *
 * Two SuiteQL queries per page (10 usage units each, whatever the page size): the page of
 * transactions, then their applications to invoices with a Lago id.
 *
 * @NApiVersion 2.1
 * @NModuleScope SameAccount
 */
define(['N/error', 'N/query', 'N/runtime'], (error, query, runtime) => {
    'use strict';

    const PARAM_PAGE = 'custscript_lago_payments_page';
    const DEFAULT_PAGE = 200;
    const MAX_PAGE = 200;
    const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;
    const EPOCH = '1970-01-01T00:00:00Z';

    // lastmodifieddate in UTC, to the second, as ISO 8601 (the session's time zone is not UTC).
    const STAMP = "TO_CHAR(SYS_EXTRACT_UTC(CAST(t.lastmodifieddate AS TIMESTAMP WITH TIME ZONE)), 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')";
    const PAGE_SQL = `
        SELECT * FROM (
            SELECT t.id AS id, t.recordtype AS type, t.tranid AS tranid,
                   TO_CHAR(t.trandate, 'YYYY-MM-DD') AS trandate, t.currency AS currency,
                   ${STAMP} AS lastmodified, t.voided AS voided, t.externalid AS externalid
            FROM transaction t
            WHERE t.recordtype IN ('customerpayment', 'creditmemo')
              AND ${STAMP} >= ?
              AND (${STAMP} > ? OR (${STAMP} = ? AND t.id > ?))
              AND (t.voided = 'T' OR EXISTS (
                    SELECT 1 FROM PreviousTransactionLink l JOIN transaction inv ON inv.id = l.previousdoc
                    WHERE l.nextdoc = t.id AND inv.recordtype = 'invoice' AND inv.custbody_lago_id IS NOT NULL))
            ORDER BY lastmodified, t.id
        ) WHERE ROWNUM <= ?`;
    const APPLICATIONS_SQL = `
        SELECT l.nextdoc AS payment, inv.id AS doc, inv.externalid AS docexternalid, l.foreignamount AS amount
        FROM PreviousTransactionLink l JOIN transaction inv ON inv.id = l.previousdoc
        WHERE inv.recordtype = 'invoice' AND inv.custbody_lago_id IS NOT NULL AND l.nextdoc IN (%IDS%)
        ORDER BY l.nextdoc, inv.id`;

    function rejectRequest(message) {
        return error.create({ name: 'INVALID_REQUEST', message, notifyOff: true });
    }

    function pageSize() {
        const raw = runtime.getCurrentScript().getParameter({ name: PARAM_PAGE });
        const value = raw === null || raw === undefined || raw === '' ? NaN : Number(raw);
        return Number.isInteger(value) && value >= 1 && value <= MAX_PAGE ? value : DEFAULT_PAGE;
    }

    /** `since` as `YYYY-MM-DDTHH:MM:SSZ` (milliseconds dropped: NetSuite keeps whole seconds). */
    function sinceOf(params) {
        const since = params.since === undefined || params.since === null || params.since === '' ? EPOCH : String(params.since);
        if (!ISO_UTC.test(since)) {
            throw rejectRequest(`since must be an ISO 8601 UTC time such as 2025-03-04T10:22:31Z, got ${since}.`);
        }
        return `${since.slice(0, 19)}Z`;
    }

    function encodeCursor(stamp, id) {
        return `${stamp}~${id}`;
    }

    function decodeCursor(cursor) {
        if (cursor === undefined || cursor === null || cursor === '') {
            return null;
        }
        const [stamp, id, ...rest] = String(cursor).split('~');
        if (rest.length > 0 || !ISO_UTC.test(stamp || '') || !/^\d+$/.test(id || '')) {
            throw rejectRequest(`Invalid cursor ${cursor}.`);
        }
        return { stamp, id: Number(id) };
    }

    /** NetSuite's M/D/YYYY from YYYY-MM-DD. */
    function nsDate(iso) {
        if (typeof iso !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(iso)) {
            return null;
        }
        const [year, month, day] = iso.split('-').map(Number);
        return `${month}/${day}/${year}`;
    }

    const text = (value) => (value === null || value === undefined || value === '' ? null : String(value));
    const isTrue = (value) => value === true || value === 'T';

    /** GET ?action=payments: one page {payments, next}. */
    function listPayments(params) {
        const since = sinceOf(params || {});
        const after = decodeCursor((params || {}).cursor) || { stamp: EPOCH, id: 0 };
        const size = pageSize();
        // ask for one more than a page: its presence says whether there is a next page
        const rows = query.runSuiteQL({
            query: PAGE_SQL, params: [since, after.stamp, after.stamp, after.id, size + 1],
        }).asMappedResults();
        const page = rows.slice(0, size);
        const applications = new Map(page.map((row) => [String(row.id), []]));
        if (page.length > 0) {
            const ids = page.map((row) => Number(row.id));
            query.runSuiteQL({
                query: APPLICATIONS_SQL.replace('%IDS%', ids.map(() => '?').join(', ')), params: ids,
            }).asMappedResults().forEach((row) => {
                const list = applications.get(String(row.payment));
                if (list) {
                    list.push({ doc: String(row.doc), docExternalId: text(row.docexternalid), amount: Math.abs(Number(row.amount)) });
                }
            });
        }
        const payments = page.map((row) => ({
            id: String(row.id),
            type: String(row.type),
            tranid: text(row.tranid),
            trandate: nsDate(row.trandate),
            currency: text(row.currency),
            lastModified: String(row.lastmodified),
            voided: isTrue(row.voided),
            externalId: text(row.externalid),
            applications: applications.get(String(row.id)),
        })).filter((payment) => payment.voided || payment.applications.length > 0);
        const last = page[page.length - 1];
        return { payments, next: rows.length > size ? encodeCursor(String(last.lastmodified), String(last.id)) : null };
    }

    return { listPayments, PAGE_SQL, APPLICATIONS_SQL };
});
