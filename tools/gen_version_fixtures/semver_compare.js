// Reads "a<TAB>b" lines; prints node-semver's compare(a, b) in strict mode, or "x" when
// either is not a valid version. Usage: node semver_compare.js <path to semver package>
const semver = require(process.argv[2]);
const lines = require("fs").readFileSync(0, "utf8").split("\n").filter((l) => l.length);
const out = lines.map((line) => {
  const [a, b] = line.split("\t");
  return semver.valid(a) && semver.valid(b) ? String(semver.compare(a, b)) : "x";
});
process.stdout.write(out.join("\n") + "\n");
