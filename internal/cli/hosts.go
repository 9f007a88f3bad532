package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// newHostsCommand is `keystage hosts`: the hosts-file lines that make every vault host
// name resolve to the server, printed or (with --apply) written into a managed block of
// /etc/hosts.
func (a *app) newHostsCommand() *cobra.Command {
	var apply bool
	var hostsFile, ip string
	cmd := a.command(leaf{
		use:   "hosts",
		short: "Print (or --apply) the hosts-file lines that make vault host names resolve to the server",
		long: `Print the hosts-file lines that map every vault of the signed-in principal's
subscriptions (NAME.vault.localhost) to the server's address.

With --apply, write them into /etc/hosts (or --hosts-file) between '# BEGIN keystage'
and '# END keystage' lines: running it again replaces that block, so it is idempotent and
drops vaults that no longer exist. Other lines are left alone.

The CLI itself does not need these entries (it dials the server for vault names DNS does
not know); applications using an Azure SDK do.`,
		example: "  sudo keystage hosts --apply\n  keystage hosts --apply --hosts-file ./hosts",
		run: func(ctx context.Context, cmd *cobra.Command) (any, error) {
			if _, err := a.signedIn(); err != nil {
				return nil, err
			}
			addr := ip
			if addr == "" {
				var err error
				if addr, err = serverIP(ctx, a.prof.Server); err != nil {
					return nil, err
				}
			} else if net.ParseIP(addr) == nil {
				return nil, usageErrorf("argument --ip: %q is not an IP address", addr)
			}
			names, err := a.vaultHostNames(ctx)
			if err != nil {
				return nil, err
			}
			lines := make([]string, len(names))
			for i, n := range names {
				lines[i] = addr + " " + n
			}
			block := hostsBlock(a.prof.Server, lines)
			if !apply {
				_, err := fmt.Fprint(a.env.Stdout, block)
				return nil, err
			}
			path := hostsFile
			if path == "" {
				path = "/etc/hosts"
			}
			old, err := os.ReadFile(path)
			if err != nil && !(os.IsNotExist(err) && hostsFile != "") {
				return nil, errorf("%v", err)
			}
			updated := applyHostsBlock(string(old), a.prof.Server, lines)
			if updated == string(old) {
				return nil, nil
			}
			mode := os.FileMode(0o644)
			if st, err := os.Stat(path); err == nil {
				mode = st.Mode().Perm()
			}
			// Written in place rather than renamed: /etc/hosts is often a bind mount.
			if err := os.WriteFile(path, []byte(updated), mode); err != nil {
				return nil, errorf("%v (run with sudo, or pass --hosts-file)", err)
			}
			return nil, nil
		},
	}, func(f *pflag.FlagSet) {
		f.BoolVar(&apply, "apply", false, "Write the lines into the hosts file instead of printing them")
		f.StringVar(&hostsFile, "hosts-file", "", "Hosts file to update (default /etc/hosts)")
		f.StringVar(&ip, "ip", "", "Address to map the names to (default the server's)")
	})
	a.addGlobalFlags(cmd)
	return cmd
}

// vaultHostNames lists NAME.{suffix} for every vault in the profile's subscriptions.
func (a *app) vaultHostNames(ctx context.Context) ([]string, error) {
	suffix := a.prof.VaultSuffix
	if suffix == "" {
		suffix = defaultVaultSuffix
	}
	seen := map[string]bool{}
	for _, s := range a.prof.Subscriptions {
		items, err := a.client.ARM().List(ctx, a.vaultsPath(s.ID)+"/vaults", apiKeyVault)
		if err != nil {
			return nil, err
		}
		for _, raw := range items {
			var v struct{ Name string }
			if json.Unmarshal(raw, &v) == nil && v.Name != "" {
				seen[strings.ToLower(v.Name)+"."+suffix] = true
			}
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

// serverIP returns the address of the server URL's host.
func serverIP(ctx context.Context, server string) (string, error) {
	u, err := url.Parse(server)
	if err != nil {
		return "", err
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); ip != nil {
		return ip.String(), nil
	}
	if strings.EqualFold(host, "localhost") {
		return "127.0.0.1", nil
	}
	addrs, err := net.DefaultResolver.LookupHost(ctx, host)
	if err != nil || len(addrs) == 0 {
		return "", errorf("cannot resolve the server's host %s: %v; pass --ip", host, err)
	}
	for _, a := range addrs {
		if net.ParseIP(a).To4() != nil {
			return a, nil
		}
	}
	return addrs[0], nil
}

func hostsMarkers(server string) (begin, end string) {
	return "# BEGIN keystage " + server, "# END keystage " + server
}

// hostsBlock is the managed block for a server.
func hostsBlock(server string, lines []string) string {
	begin, end := hostsMarkers(server)
	var b strings.Builder
	b.WriteString(begin + "\n")
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
	b.WriteString(end + "\n")
	return b.String()
}

// applyHostsBlock returns content with the server's managed block (the first END and the
// last BEGIN before it) replaced by one holding lines, or with the block appended when there is
// none. Applying the same lines again changes nothing; lines outside the block are kept.
func applyHostsBlock(content, server string, lines []string) string {
	begin, end := hostsMarkers(server)
	block := hostsBlock(server, lines)
	src := strings.Split(content, "\n")
	bi, ei := -1, -1
	for i, l := range src {
		t := strings.TrimRight(l, "\r")
		if t == begin {
			bi = i // the block starts at the last BEGIN before its END
		} else if bi >= 0 && t == end {
			ei = i
			break
		}
	}
	if bi >= 0 && ei >= 0 {
		out := append([]string{}, src[:bi]...)
		out = append(out, strings.Split(strings.TrimSuffix(block, "\n"), "\n")...)
		out = append(out, src[ei+1:]...)
		return strings.Join(out, "\n")
	}
	if content != "" && !strings.HasSuffix(content, "\n") {
		content += "\n"
	}
	return content + block
}
