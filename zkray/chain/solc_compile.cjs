// Compiles a solc standard-JSON input read from stdin with the pinned solc-js and prints the output.
// Imports starting with "@openzeppelin/" resolve to the pinned npm package; nothing else is read from disk.
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const root = process.argv[2];
const input = fs.readFileSync(0, "utf8");
function findImports(name) {
  if (!name.startsWith("@openzeppelin/")) return { error: "import not allowed: " + name };
  try {
    return { contents: fs.readFileSync(path.join(root, "node_modules", name), "utf8") };
  } catch (e) {
    return { error: "not found: " + name + " (run scripts/setup.sh to install npm packages)" };
  }
}
process.stdout.write(JSON.stringify({ version: solc.version(), output: JSON.parse(solc.compile(input, { import: findImports })) }));
