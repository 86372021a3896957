//! The `saturn` command-line program.

fn main() {
    println!("saturn");
}
