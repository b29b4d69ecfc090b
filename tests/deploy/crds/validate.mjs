// Validates Kubernetes custom resources (a JSON array on stdin) against the models that
// @kubernetes-models generates from Traefik's, cert-manager's and the Prometheus Operator's own API
// types, in two ways, because neither is enough alone:
//  - the package's compiled JSON-schema validator (types, required fields, enums), which accepts
//    unknown fields as the generated schemas carry no `additionalProperties: false`;
//  - the package's TypeScript types, each document type-checked as an object literal, so that
//    TypeScript's excess-property check refuses any field the API does not have (what
//    `kubectl apply --validate=strict` does against the installed CRDs).
// Prints {"checked": N, "errors": [{"document": "Kind/namespace/name", "message": "..."}]} and exits
// 1 when there is any error.
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const MODELS = {
  "traefik.io/v1alpha1": "@kubernetes-models/traefik/traefik.io/v1alpha1",
  "cert-manager.io/v1": "@kubernetes-models/cert-manager/cert-manager.io/v1",
  "monitoring.coreos.com/v1": "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1",
};
const COMPILER_OPTIONS = {
  strict: true,
  noEmit: true,
  skipLibCheck: true,
  types: [],
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
};

function identity(document) {
  const { namespace = "", name = "?" } = document.metadata ?? {};
  return `${document.kind}/${namespace}/${name}`;
}

async function schemaErrors(document, module) {
  const Model = await import(module).then((loaded) => loaded[document.kind], () => undefined);
  if (typeof Model !== "function") {
    return [`no model for kind ${document.kind} (${module})`];
  }
  try {
    new Model(document).validate();
    return [];
  } catch (error) {
    return [error.message];
  }
}

function typeErrors(sources) {
  const host = ts.createCompilerHost(COMPILER_OPTIONS);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (name, language, ...rest) =>
    sources.has(name)
      ? ts.createSourceFile(name, sources.get(name).text, language)
      : getSourceFile(name, language, ...rest);
  host.fileExists = (name) => sources.has(name) || fileExists(name);
  host.readFile = (name) => sources.get(name)?.text ?? readFile(name);
  const program = ts.createProgram([...sources.keys()], COMPILER_OPTIONS, host);
  return ts.getPreEmitDiagnostics(program).map((diagnostic) => ({
    document: sources.get(diagnostic.file?.fileName)?.id ?? diagnostic.file?.fileName ?? "tsc",
    message: ts.flattenDiagnosticMessageText(diagnostic.messageText, " "),
  }));
}

const documents = JSON.parse(readFileSync(0, "utf8"));
const errors = [];
const sources = new Map(); // virtual .mts file -> {id, text}
for (const [index, document] of documents.entries()) {
  const id = identity(document);
  const group = MODELS[document.apiVersion];
  if (group === undefined) {
    errors.push({ document: id, message: `no model for apiVersion ${document.apiVersion}` });
    continue;
  }
  const module = `${group}/${document.kind}`;
  for (const message of await schemaErrors(document, module)) {
    errors.push({ document: id, message });
  }
  const text =
    `import type { I${document.kind} as Resource } from "${module}";\n` +
    `export const document: Resource = ${JSON.stringify(document, null, 1)};\n`;
  sources.set(path.join(HERE, `rendered-${index}.mts`), { id, text });
}
errors.push(...typeErrors(sources));
process.stdout.write(`${JSON.stringify({ checked: documents.length, errors })}\n`);
process.exitCode = errors.length === 0 ? 0 : 1;
