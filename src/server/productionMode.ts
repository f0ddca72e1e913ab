// Entry points import this module first. graphql-js chooses between its development
// checks and its fast paths from NODE_ENV once, when it is loaded; the development checks
// cost about a third of a remember's time with a 768-number embedding. An explicit
// NODE_ENV from the environment is kept.
process.env['NODE_ENV'] ??= 'production';
export {};
