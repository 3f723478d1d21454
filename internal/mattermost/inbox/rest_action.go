package inbox

// The interactive-button round trip: a user's click (POST
// /api/v4/posts/{post_id}/actions/{action_id}, or Server.Click), its
// dispatch to the button's integration URL, and the answer applied as
// Mattermost's DoPostActionWithCookie does.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Click clicks the button actionID of post postID as the user username, as
// the user's client would: the server dispatches it to the button's
// integration URL (a real HTTP POST) and applies the answer. The error is
// for a click that could not be dispatched (unknown user, post or action, not
// a channel member); an integration that fails is ClickResult.Err.
func (s *Server) Click(username, postID, actionID string) (ClickResult, error) {
	s.mu.Lock()
	var u user
	found := s.userByName(username)
	if found != nil {
		u = *found
	}
	s.mu.Unlock()
	if found == nil {
		return ClickResult{}, fmt.Errorf("click %s on %s: unknown user %q", actionID, postID, username)
	}
	plan, aerr := s.planClick(u, postID, actionID)
	if aerr != nil {
		return ClickResult{}, fmt.Errorf("click %s on %s as %s: %w", actionID, postID, username, aerr)
	}
	res, _ := s.runClick(context.Background(), plan)
	return res, nil
}

func (s *Server) apiAction(c *call) *apiError {
	postID, err := pathID(c, "post_id")
	if err != nil {
		return err
	}
	actionID := c.r.PathValue("action_id")
	if !alnum.MatchString(actionID) {
		return errNotFound // Mattermost's route is {action_id:[A-Za-z0-9]+}
	}
	// The body ({} or {selected_option, cookie}) may be empty; Mattermost only logs a bad one.
	_, _ = io.Copy(io.Discard, io.LimitReader(c.r.Body, int64(c.maxBody)))
	plan, err := s.planClick(c.user, postID, actionID)
	if err != nil {
		return err
	}
	if _, err := s.runClick(c.r.Context(), plan); err != nil {
		return err
	}
	writeJSON(c.w, http.StatusOK, map[string]string{"status": "OK", "trigger_id": plan.triggerID})
	return nil
}

type clickPlan struct {
	user      user
	post      APIPost
	action    Action
	triggerID string
	body      []byte
}

// planClick finds what a click of u on the button actionID of postID sends.
func (s *Server) planClick(u user, postID, actionID string) (clickPlan, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.livePost(postID)
	if err != nil {
		return clickPlan{}, err
	}
	ch := s.api.channels[p.ChannelID]
	if !ch.members[u.id] {
		return clickPlan{}, errPermissions
	}
	plan := clickPlan{user: u, post: p.clone(), triggerID: newID()}
	found := false
	for _, a := range plan.post.Actions {
		if a.ID == actionID {
			plan.action, found = a, true
			break
		}
	}
	if !found {
		return clickPlan{}, &apiError{http.StatusNotFound, "api.post.do_action.action_id.app_error", "Invalid action id.", "action=" + actionID}
	}
	teamName := ""
	if t, ok := s.api.teams[ch.teamID]; ok {
		teamName = t.name
	}
	plan.body, _ = json.Marshal(struct {
		UserID      string         `json:"user_id"`
		UserName    string         `json:"user_name"`
		ChannelID   string         `json:"channel_id"`
		ChannelName string         `json:"channel_name"`
		TeamID      string         `json:"team_id"`
		TeamDomain  string         `json:"team_domain"`
		PostID      string         `json:"post_id"`
		TriggerID   string         `json:"trigger_id"`
		Type        string         `json:"type"`
		DataSource  string         `json:"data_source"`
		Context     map[string]any `json:"context,omitempty"`
	}{u.id, u.username, ch.id, ch.name, ch.teamID, teamName, p.ID, plan.triggerID, plan.action.Type, "", plan.action.Context})
	return plan, nil
}

// actionAnswer is an integration's answer to a click.
type actionAnswer struct {
	Update *struct {
		// Message is the post's new message: absent means empty, as in Mattermost.
		Message string `json:"message"`
		// Props, when absent, keep the post's props; when set they replace them.
		Props map[string]any `json:"props"`
	} `json:"update"`
	EphemeralText string `json:"ephemeral_text"`
}

// retainedProps survive an integration's update, as Mattermost's PostActionRetainPropKeys.
var retainedProps = []string{"from_webhook", "override_username", "override_icon_url"}

// runClick POSTs the click to the integration and applies its answer.
func (s *Server) runClick(ctx context.Context, plan clickPlan) (ClickResult, *apiError) {
	d := Dispatch{PostID: plan.post.ID, ActionID: plan.action.ID, UserName: plan.user.username, URL: plan.action.URL, Body: plan.body, At: time.Now()}
	var res ClickResult
	clickEvent := func() Event {
		return Event{Kind: "click", Post: plan.post, Text: plan.action.Name, UserName: plan.user.username, Status: res.Status}
	}
	failed := func(detail string) (ClickResult, *apiError) {
		err := &apiError{http.StatusBadRequest, "api.post.do_action.action_integration.app_error", "Unable to send the action to the integration.", detail}
		res.Err = err.Error()
		s.emit(clickEvent())
		return res, err
	}

	ctx, cancel := context.WithTimeout(ctx, ActionTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, plan.action.URL, bytes.NewReader(plan.body))
	var resp *http.Response
	if err == nil {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		resp, err = s.api.client.Do(req)
	}
	if err != nil {
		d.Err = err.Error()
		s.recordDispatch(d)
		return failed("err=" + err.Error())
	}
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	resp.Body.Close()
	d.Status, d.Answer, res.Status = resp.StatusCode, answer, resp.StatusCode
	if err != nil {
		d.Err = err.Error()
	}
	s.recordDispatch(d)
	if resp.StatusCode != http.StatusOK { // Mattermost wants exactly 200
		return failed(fmt.Sprintf("status=%d", resp.StatusCode))
	}
	if err != nil {
		return failed("err=" + err.Error())
	}
	var ans actionAnswer
	if len(bytes.TrimSpace(answer)) > 0 {
		if err := json.Unmarshal(answer, &ans); err != nil {
			return failed("the integration's answer is not JSON: " + err.Error())
		}
	}

	var events []Event
	if ans.Update != nil {
		s.mu.Lock()
		p, aerr := s.livePost(plan.post.ID)
		var cont content
		if aerr == nil {
			props := cloneMap(p.Props)
			if ans.Update.Props != nil {
				props = ans.Update.Props
				for _, k := range retainedProps {
					if v, ok := p.Props[k]; ok {
						props[k] = v
					} else {
						delete(props, k)
					}
				}
			}
			cont, aerr = checkContent(ans.Update.Message, props)
		}
		if aerr != nil {
			s.mu.Unlock()
			res.Err = aerr.Error()
			s.emit(clickEvent())
			return res, aerr
		}
		events = append(events, s.applyEdit(p, cont, p.UserName))
		s.mu.Unlock()
		res.Updated = true
	}
	if ans.EphemeralText != "" {
		root := plan.post.RootID
		if root == "" {
			root = plan.post.ID
		}
		e := Ephemeral{UserName: plan.user.username, ChannelID: plan.post.ChannelID, RootID: root, Message: ans.EphemeralText, At: time.Now()}
		s.mu.Lock()
		s.api.ephemerals = append(s.api.ephemerals, e)
		s.mu.Unlock()
		res.EphemeralText = ans.EphemeralText
		events = append(events, Event{Kind: "ephemeral", Post: plan.post, Text: e.Message, UserName: e.UserName})
	}
	s.emit(append([]Event{clickEvent()}, events...)...)
	return res, nil
}

func (s *Server) recordDispatch(d Dispatch) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.api.dispatches = append(s.api.dispatches, d)
}
