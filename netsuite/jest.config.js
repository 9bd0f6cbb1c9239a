// Jest for the SuiteCloud project: Oracle's configuration maps every `N/...` module to its stub in
// @oracle/suitecloud-unit-testing and `SuiteScripts/...` to src/FileCabinet/SuiteScripts, and
// compiles the AMD `define` modules to CommonJS. The stubs are empty; __tests__/support/fakeNetSuite.js
// gives the ones the RESTlet uses an in-memory account (records, searches, governance, logs).
const SuiteCloudJestConfiguration = require('@oracle/suitecloud-unit-testing/jest-configuration/SuiteCloudJestConfiguration');

module.exports = {
    ...SuiteCloudJestConfiguration.build({
        projectFolder: 'src',
        projectType: SuiteCloudJestConfiguration.ProjectType.ACP,
    }),
    setupFilesAfterEnv: ['<rootDir>/__tests__/support/mockNetSuiteModules.js'],
    testMatch: ['<rootDir>/__tests__/**/*.test.js'],
    testEnvironment: 'node',
    clearMocks: true,
};
