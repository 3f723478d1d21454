package cli

import (
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/gatewatch/gatewatch/internal/mattermost/inbox"
)

func newInboxCmd() *cobra.Command {
	var listen, hook, channel, urlFile, team, tokenFile string
	cmd := &cobra.Command{
		Use:   "inbox",
		Short: "Run a local Mattermost-compatible inbox that prints every message it accepts",
		Long: `Starts a local, strict Mattermost-compatible server (the one gatewatch's
tests and demo use): an incoming webhook, and the REST API v4 subset a bot
uses (posts, edits, threads, interactive buttons). It prints each accepted
post, edit, thread reply and button click. Point a spec's webhook_url (or
webhook_url_file) at it, or in bot mode its url and bot_token_file (written by
--write-token; the bot is a member of team --team, channel --channel), to try
delivery without a Mattermost server. It enforces Mattermost's rules and
answers as Mattermost does. Stops on Ctrl-C.`,
		Example: `  gatewatch inbox --listen 127.0.0.1:8065
  gatewatch inbox --listen 127.0.0.1:0 --write-url /tmp/hook.url
  gatewatch inbox --write-token /tmp/bot-token --team ops --channel gateway-alerts`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			srv, err := inbox.Start(listen)
			if err != nil {
				return fail(exitFailure, err)
			}
			defer srv.Close()
			url := srv.AddHook(hook, channel, false)
			out := cmd.OutOrStdout()
			var mu sync.Mutex
			srv.OnPost(func(p inbox.Post) {
				mu.Lock()
				defer mu.Unlock()
				inbox.PrintPost(out, p)
			})
			srv.OnEvent(func(e inbox.Event) {
				mu.Lock()
				defer mu.Unlock()
				inbox.PrintEvent(out, e)
			})
			if tokenFile != "" {
				token := srv.SetupBot(team, channel, "gatewatch")
				if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
					return fail(exitFailure, fmt.Errorf("write --write-token file: %w", err))
				}
			}
			if urlFile != "" {
				if err := os.WriteFile(urlFile, []byte(url+"\n"), 0o600); err != nil {
					return fail(exitFailure, fmt.Errorf("write --write-url file: %w", err))
				}
			}
			mu.Lock()
			fmt.Fprintf(out, "Mattermost-compatible inbox listening on %s\nwebhook URL: %s (channel %s)\n", strings.TrimPrefix(srv.URL, "http://"), url, channel)
			if tokenFile != "" {
				fmt.Fprintf(out, "bot mode: url %s, bot @gatewatch, team %s, channel %s, token in %s\n", srv.URL, team, channel, tokenFile)
			}
			mu.Unlock()
			<-cmd.Context().Done()
			return nil
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8065", "address to listen on")
	cmd.Flags().StringVar(&hook, "hook", "gatewatch", "the webhook id (the URL is /hooks/<id>)")
	cmd.Flags().StringVar(&channel, "channel", "town-square", "the webhook's channel")
	cmd.Flags().StringVar(&urlFile, "write-url", "", "write the webhook URL to this file once listening (for webhook_url_file)")
	cmd.Flags().StringVar(&tokenFile, "write-token", "", "bot mode: create a bot in --team and --channel and write its token to this file (for bot_token_file)")
	cmd.Flags().StringVar(&team, "team", "gatewatch", "bot mode: the team of --channel")
	return cmd
}
