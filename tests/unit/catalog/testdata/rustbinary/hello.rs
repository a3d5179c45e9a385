fn main() {
    let v: Vec<String> = std::env::args().skip(1).collect();
    println!("hello {}", v.join(" "));
}
