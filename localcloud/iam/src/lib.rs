//! The IAM model sigship is checked against: [`authorization`] (a request → the resources,
//! condition keys and implied permissions AWS evaluates), [`policy`] (how IAM judges that against
//! policy statements) and [`permissions`] (what each principal of the stack must be allowed).
//! The local cloud's authorizer and the permission contract use it; the functions do not.

pub mod authorization;
pub mod permissions;
pub mod policy;
