// Typed client documents for examples/, generated from schema/ by `npm run codegen`.
// test/integration/codegen.test.ts runs this same config and fails when examples/generated is stale.

import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  schema: 'schema/*.graphql',
  documents: ['examples/**/*.ts', '!examples/generated/**'],
  // Fail on a document or schema error, or on no documents, instead of writing partial output.
  noSilentErrors: true,
  ignoreNoDocuments: false,
  generates: {
    'examples/generated/': {
      preset: 'client',
      presetConfig: { gqlTagName: 'graphql' },
      config: {
        // NodeNext and verbatimModuleSyntax need explicit extensions and type-only imports.
        useTypeImports: true,
        importExtension: '.js',
        // The server serializes DateTime as ISO 8601 text (resolvers/scalars.ts).
        scalars: { DateTime: 'string', JSON: 'unknown' },
        strictScalars: true,
        // String unions avoid runtime enums and match what travels over the wire.
        enumsAsTypes: true,
      },
    },
  },
};

export default config;
