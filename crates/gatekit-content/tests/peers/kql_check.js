// Parses and semantically checks KQL with Microsoft's Kusto language service
// (@kusto/language-service-next, the Bridge.NET build of Kusto.Language).
//
// usage: node kql_check.js PACKAGE_DIR INPUT.json
//   INPUT: {"schemas": [{"name", "table", "columns": [[name, type], ...]}],
//           "queries": [{"label", "schema", "kql"}]}
// prints: [{"label", "diagnostics": [{"severity", "message", "start"}]}]
"use strict";
const fs = require("fs");
const path = require("path");
const vm = require("vm");

const [pkg, input] = process.argv.slice(2);
for (const f of ["bridge.min.js", "Kusto.Language.Bridge.min.js"]) {
  vm.runInThisContext(fs.readFileSync(path.join(pkg, f), "utf8"), { filename: f });
}
const K = Kusto.Language;
const spec = JSON.parse(fs.readFileSync(input, "utf8"));

const globals = {};
for (const s of spec.schemas) {
  const cols = s.columns.map(([n, t]) => `${n}:${t === "boolean" ? "bool" : t}`).join(", ");
  const table = new K.Symbols.TableSymbol.$ctor7(s.table, `(${cols})`, null);
  const db = new K.Symbols.DatabaseSymbol.$ctor3("workspace", null, [table], false);
  globals[s.name] = K.GlobalState.Default.WithDatabase(db);
}

const out = [];
for (const q of spec.queries) {
  const g = globals[q.schema];
  if (!g) throw new Error(`unknown schema ${q.schema}`);
  const diags = K.KustoCode.ParseAndAnalyze(q.kql, g).GetDiagnostics();
  const list = [];
  for (let i = 0; i < diags.Count; i++) {
    const d = diags.getItem(i);
    list.push({ severity: String(d.Severity), message: String(d.Message), start: d.Start });
  }
  out.push({ label: q.label, diagnostics: list });
}
process.stdout.write(JSON.stringify(out));
