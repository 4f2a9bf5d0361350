// Validates KEDA and Prometheus Operator objects with the compiled schemas of the
// @kubernetes-models packages. Arguments: the node_modules folder and a JSON map of API group to
// package name; stdin: a JSON array of objects; stdout: a JSON array of error lines.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [modules, packagesJson] = process.argv.slice(2);
const packages = JSON.parse(packagesJson);
const errors = [];
for (const object of JSON.parse(readFileSync(0, "utf8"))) {
  const name = `${object.kind}/${object.metadata.name}`;
  const group = object.apiVersion.split("/")[0];
  const file = join(modules, "@kubernetes-models", packages[group], object.apiVersion,
                    `${object.kind}.js`);
  const { [object.kind]: Model } = await import(pathToFileURL(file).href);
  try {
    new Model(object).validate();
  } catch (error) {
    errors.push(`${name}: ${error.message}`);
  }
}
process.stdout.write(JSON.stringify(errors));
