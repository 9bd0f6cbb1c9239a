// SuiteCloud CLI (`suitecloud project:deploy`, `project:validate`) reads the project from src/.
module.exports = {
    defaultProjectFolder: 'src',
    commands: {},
};
