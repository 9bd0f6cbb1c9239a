// The SuiteCloud project deploys what the script needs: the files it names exist, every object
// is named after its script id, and the fields and script parameters the code uses are defined.
const fs = require('fs');
const path = require('path');

const SRC = path.join(__dirname, '..', 'src');
const SCRIPTS = path.join(SRC, 'FileCabinet', 'SuiteScripts', 'LagoNetSuiteSync');
const OBJECTS = path.join(SRC, 'Objects');

const read = (file) => fs.readFileSync(file, 'utf8');
const objectXml = (scriptId) => read(path.join(OBJECTS, `${scriptId}.xml`));
const element = (xml, name) => {
    const found = new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml);
    return found ? found[1] : undefined;
};

test('every object file is named after the script id of its root element', () => {
    const files = fs.readdirSync(OBJECTS);
    expect(files.length).toBeGreaterThan(0);
    files.forEach((file) => {
        const root = /^<(\w+) scriptid="([^"]+)">/.exec(read(path.join(OBJECTS, file)));
        expect(root && `${root[2]}.xml`).toBe(file);
    });
});

test.each([
    ['custbody_lago_id', 'transactionbodycustomfield', 'TEXT', ['bodysale', 'bodycustomerpayment']],
    ['custbody_lago_invoice_link', 'transactionbodycustomfield', 'URL', ['bodysale', 'bodycustomerpayment']],
    ['custentity_lago_id', 'entitycustomfield', 'TEXT', ['appliestocustomer']],
    ['custcol_lago_line_id', 'transactioncolumncustomfield', 'TEXT', ['colsale']],
    ['custcol_service_period_date_from', 'transactioncolumncustomfield', 'DATE', ['colsale']],
    ['custcol_service_period_date_to', 'transactioncolumncustomfield', 'DATE', ['colsale']],
])('custom field %s is a %s of type %s applied where the records use it', (scriptId, root, fieldType, appliesTo) => {
    const xml = objectXml(scriptId);
    expect(xml.startsWith(`<${root} scriptid="${scriptId}">`)).toBe(true);
    expect(element(xml, 'fieldtype')).toBe(fieldType);
    expect(element(xml, 'storevalue')).toBe('T');
    appliesTo.forEach((flag) => expect(element(xml, flag)).toBe('T'));
});

test('the RESTlet object points at the script file and is released', () => {
    const xml = objectXml('customscript_lago_netsuite_sync');
    const scriptFile = /<scriptfile>\[([^\]]+)\]<\/scriptfile>/.exec(xml)[1];
    expect(fs.existsSync(path.join(SRC, 'FileCabinet', scriptFile))).toBe(true);
    expect(xml).toContain('<scriptdeployment scriptid="customdeploy_lago_netsuite_sync">');
    expect(element(xml, 'status')).toBe('RELEASED');
    expect(element(xml, 'isdeployed')).toBe('T');
});

test('the script parameters the RESTlet reads are defined with the same defaults', () => {
    const code = read(path.join(SCRIPTS, 'lago_netsuite_restlet.js'));
    const xml = objectXml('customscript_lago_netsuite_sync');
    const parameter = (scriptId) => new RegExp(`<scriptcustomfield scriptid="${scriptId}">([\\s\\S]*?)</scriptcustomfield>`).exec(xml)[1];
    const codeDefault = (constant) => new RegExp(`const ${constant} = (\\d+);`).exec(code)[1];

    expect(code).toContain("'custscript_lago_usage_reserve'");
    expect(code).toContain("'custscript_lago_time_budget_s'");
    expect(element(parameter('custscript_lago_usage_reserve'), 'defaultvalue')).toBe(codeDefault('DEFAULT_USAGE_RESERVE'));
    expect(element(parameter('custscript_lago_time_budget_s'), 'defaultvalue')).toBe(codeDefault('DEFAULT_TIME_BUDGET_S'));
});

test('the scripts are SuiteScript 2.1 AMD modules; only the entry point is a RESTlet', () => {
    const entry = read(path.join(SCRIPTS, 'lago_netsuite_restlet.js'));
    const library = read(path.join(SCRIPTS, 'lago_netsuite_records.js'));
    [entry, library].forEach((code) => {
        expect(code).toMatch(/@NApiVersion 2\.1/);
        expect(code).toMatch(/^define\(\[/m);
    });
    expect(entry).toMatch(/@NScriptType Restlet/);
    expect(library).not.toMatch(/@NScriptType/);
});

test('manifest and deploy.xml cover the files and objects', () => {
    expect(read(path.join(SRC, 'manifest.xml'))).toMatch(/<manifest projecttype="ACCOUNTCUSTOMIZATION">/);
    const deploy = read(path.join(SRC, 'deploy.xml'));
    expect(deploy).toContain('<path>~/FileCabinet/SuiteScripts/LagoNetSuiteSync/*</path>');
    expect(deploy).toContain('<path>~/Objects/*</path>');
});
