<?php
// Reads "a<TAB>b" lines; prints Composer's order of the normalised versions (-1/0/1),
// or "x" when Composer cannot normalise one or it is a named dev branch (incomparable).
require '/usr/share/php/Composer/Semver/autoload.php';
use Composer\Semver\VersionParser;
$parser = new VersionParser();
function norm($parser, $v) {
    try { $n = $parser->normalize($v); } catch (\Exception $e) { return null; }
    return strpos($n, 'dev-') === 0 ? null : $n;
}
while (($line = fgets(STDIN)) !== false) {
    [$a, $b] = explode("\t", rtrim($line, "\n"), 2);
    $na = norm($parser, $a);
    $nb = norm($parser, $b);
    echo ($na === null || $nb === null) ? "x\n" : version_compare($na, $nb) . "\n";
}
