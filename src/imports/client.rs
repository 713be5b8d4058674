//! The `ecnow-gateway import` command: uploads a file to a running gateway and follows it.
