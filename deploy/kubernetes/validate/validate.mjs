#!/usr/bin/env node
// Validates every Kubernetes object in the YAML files named on the command line against the
// schemas of kubernetes-models, offline. Exit 0 when all pass; 1 with one line per failure.
// --extract DIR also writes every ConfigMap's *.yaml entry to DIR/CONFIGMAP--KEY, for detourd check.
import { readFileSync, writeFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const args = process.argv.slice(2);
let extract = null;
if (args[0] === "--extract") { extract = args[1]; args.splice(0, 2); }
const failures = [];
for (const file of args) {
  for (const doc of parseAllDocuments(readFileSync(file, "utf8"))) {
    if (doc.errors.length) { failures.push(`${file}: YAML: ${doc.errors[0].message}`); continue; }
    const obj = doc.toJS();
    if (obj == null) continue;
    if (obj.kind === "Kustomization") continue;  // not an API object
    if (extract && obj.kind === "ConfigMap") {
      for (const [key, text] of Object.entries(obj.data ?? {}))
        if (key.endsWith(".yaml")) writeFileSync(`${extract}/${obj.metadata.name}--${key}`, text);
    }
    const [group, version] = obj.apiVersion.includes("/") ? obj.apiVersion.split("/") : [null, obj.apiVersion];
    const module = group ? `kubernetes-models/${group}/${version}/${obj.kind}` : `kubernetes-models/${version}/${obj.kind}`;
    try {
      const Model = (await import(module))[obj.kind];
      new Model(obj).validate();
    } catch (e) {
      failures.push(`${file}: ${obj.kind} ${obj.metadata?.name ?? ""}: ${e.message}`);
    }
  }
}
for (const f of failures) console.error(f);
process.exit(failures.length ? 1 : 0);
