package cli

import (
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/gatewatch/gatewatch/internal/mattermost/mmtest"
)

func newInboxCmd() *cobra.Command {
	var listen, hook, channel, urlFile string
	cmd := &cobra.Command{
		Use:   "inbox",
		Short: "Run a local Mattermost-compatible inbox that prints every message it accepts",
		Long: `Starts a local, strict Mattermost-compatible incoming-webhook server (the
one gatewatch's tests and demo use) and prints each accepted post. Point a
spec's webhook_url (or webhook_url_file) at it to try delivery without a
Mattermost server. It enforces Mattermost's payload rules and answers as
Mattermost does. Stops on Ctrl-C.`,
		Example: `  gatewatch inbox --listen 127.0.0.1:8065
  gatewatch inbox --listen 127.0.0.1:0 --write-url /tmp/hook.url`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			srv, err := mmtest.Start(listen)
			if err != nil {
				return fail(exitFailure, err)
			}
			defer srv.Close()
			url := srv.AddHook(hook, channel, false)
			out := cmd.OutOrStdout()
			var mu sync.Mutex
			srv.OnPost(func(p mmtest.Post) {
				mu.Lock()
				defer mu.Unlock()
				printPost(out, p)
			})
			if urlFile != "" {
				if err := os.WriteFile(urlFile, []byte(url+"\n"), 0o600); err != nil {
					return fail(exitFailure, fmt.Errorf("write --write-url file: %w", err))
				}
			}
			mu.Lock()
			fmt.Fprintf(out, "Mattermost-compatible inbox listening on %s\nwebhook URL: %s (channel %s)\n", strings.TrimPrefix(srv.URL, "http://"), url, channel)
			mu.Unlock()
			<-cmd.Context().Done()
			return nil
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8065", "address to listen on")
	cmd.Flags().StringVar(&hook, "hook", "gatewatch", "the webhook id (the URL is /hooks/<id>)")
	cmd.Flags().StringVar(&channel, "channel", "town-square", "the webhook's channel")
	cmd.Flags().StringVar(&urlFile, "write-url", "", "write the webhook URL to this file once listening (for webhook_url_file)")
	return cmd
}

func printPost(w interface{ Write([]byte) (int, error) }, p mmtest.Post) {
	fmt.Fprintf(w, "--- post to ~%s by %s at %s", p.Channel, p.Username, p.Received.Format("15:04:05"))
	if p.Parts > 1 {
		fmt.Fprintf(w, " (part %d of %d)", p.Part, p.Parts)
	}
	if p.Priority != nil {
		fmt.Fprintf(w, " [priority %s]", p.Priority.Priority)
	}
	fmt.Fprintln(w)
	if p.Message != "" {
		fmt.Fprintln(w, p.Message)
	}
	for _, a := range p.Attachments {
		fmt.Fprintf(w, "| %s [%s]\n", a.Title, a.Color)
		for _, l := range strings.Split(strings.TrimRight(a.Text, "\n"), "\n") {
			fmt.Fprintf(w, "| %s\n", l)
		}
		var fs []string
		for _, f := range a.Fields {
			fs = append(fs, f.Title+": "+f.Value)
		}
		if len(fs) > 0 {
			fmt.Fprintf(w, "| %s\n", strings.Join(fs, " · "))
		}
		if a.Footer != "" {
			fmt.Fprintf(w, "| %s\n", a.Footer)
		}
	}
}
