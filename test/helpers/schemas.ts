import { readFileSync } from 'node:fs';
import path from 'node:path';
import ajv2020 from 'ajv/dist/2020.js';
import ajvFormats from 'ajv-formats';

// Both are CommonJS with a `default` export as well as module.exports (TypeScript's nodenext sees the former).
const Ajv2020 = ajv2020.default;
const addFormats = ajvFormats.default;
type Ajv = InstanceType<typeof Ajv2020>;

// The official OSV and CSAF 2.0 JSON schemas (test/fixtures/schemas, SOURCES.md), compiled with ajv. CSAF refers
// to FIRST's CVSS schemas by their $id URLs; they are registered under those URLs. The CVSS schemas declare
// draft-04/draft-07 as their meta-schema, which ajv's 2020-12 build does not carry, so their $schema is dropped
// (their keywords mean the same in 2020-12: type, enum, pattern, minimum, maximum, required).

const DIR = path.join(import.meta.dirname, '../fixtures/schemas');
const read = (f: string): Record<string, unknown> => JSON.parse(readFileSync(path.join(DIR, f), 'utf8')) as Record<string, unknown>;

export interface SchemaCheck { valid: boolean; errors: string[] }

function checker(ajv: Ajv, schema: Record<string, unknown>): (doc: unknown) => SchemaCheck {
  const validate = ajv.compile(schema);
  return (doc) => {
    const valid = validate(JSON.parse(JSON.stringify(doc))) as boolean;
    return { valid, errors: (validate.errors ?? []).map((e: { instancePath: string; message?: string }) => `${e.instancePath || '/'} ${e.message ?? ''}`) };
  };
}

function newAjv(): Ajv {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  return ajv;
}

export function osvValidator(): (doc: unknown) => SchemaCheck {
  return checker(newAjv(), read('osv.schema.json'));
}

export function csafValidator(): (doc: unknown) => SchemaCheck {
  const ajv = newAjv();
  for (const [file, url] of [['cvss-v2.0.json', 'https://www.first.org/cvss/cvss-v2.0.json'], ['cvss-v3.0.json', 'https://www.first.org/cvss/cvss-v3.0.json'], ['cvss-v3.1.json', 'https://www.first.org/cvss/cvss-v3.1.json']] as const) {
    const { $schema: _s, $id: _i, id: _d, ...schema } = read(file);
    ajv.addSchema({ ...schema, $id: url });
  }
  return checker(ajv, read('csaf-2.0.schema.json'));
}
