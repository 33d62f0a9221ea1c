pub mod mutate;
pub mod strategies;
