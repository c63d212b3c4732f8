// The recipe needs no configuration: this switch exists only so that the tests can build the same app as
// `output: "standalone"` too.
export default process.env.NEXT_OUTPUT === "standalone" ? { output: "standalone" } : {};
