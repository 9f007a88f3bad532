// Package conformance holds the end-to-end tests of the Key Vault data plane: the real
// server in-process over real HTTPS, driven by unmodified Azure SDK clients (azsecrets and
// every azidentity credential kind), the AzureKeyVault@2 task's requests and the access
// checks of identity.md §5. It has no non-test code.
package conformance
