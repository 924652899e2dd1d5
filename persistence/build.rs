//! `embed_migrations!` reads the migration folders when this crate compiles, and cargo
//! tracks the files it included but not the folders: a new migration was left out of the
//! build until something else in this crate changed.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
