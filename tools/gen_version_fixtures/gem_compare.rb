# Reads "a<TAB>b" lines; prints Gem::Version's a <=> b, or "x" if either is malformed.
require "rubygems"
STDIN.each_line do |line|
  a, b = line.chomp("\n").split("\t", 2)
  if Gem::Version.correct?(a) && Gem::Version.correct?(b)
    puts(Gem::Version.new(a) <=> Gem::Version.new(b))
  else
    puts "x"
  end
end
