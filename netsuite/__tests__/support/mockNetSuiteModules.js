// Runs before every test file (jest.config.js setupFilesAfterEnv): replaces the N/ modules the
// RESTlet uses with Jest's automatic mocks of Oracle's stubs (same members and enums as NetSuite,
// every function an empty jest.fn). fakeNetSuite.install() then gives them an in-memory account.
jest.mock('N/error');
jest.mock('N/log');
jest.mock('N/query');
jest.mock('N/record');
jest.mock('N/runtime');
jest.mock('N/search');
jest.mock('N/transaction');
