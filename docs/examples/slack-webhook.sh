#!/bin/sh
# A jit-agent hook (jit-agent.conf(5), [hooks]): post each event to a
# Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat).
#
#   [hooks]
#   event = /usr/share/doc/jit-agent/examples/slack-webhook.sh /home/me/.config/jit-agent/webhook.curl
#
# The argument is a curl config file, mode 0600, holding the webhook's
# address (which is a secret: it is kept out of every command line):
#
#   url = "https://hooks.slack.com/services/T000/B000/XXXX"
#
# The event comes on stdin as one JSON object; it holds no secret.
set -eu
conf=$1
jq -c '{text: ("jit-agent on " + (env.HOSTNAME // "this host") + ": " + .event
	+ (if .names then " " + (.names | join(",")) elif .name then " " + .name
	   elif .profile then " " + .profile else "" end)
	+ (if .approver then " approved by " + .approver else "" end)
	+ (if .reason then " (" + .reason + ")" else "" end)
	+ (if .exe then " by " + .exe else "" end))}' |
	curl -fsS -m 10 -K "$conf" -H 'Content-Type: application/json' \
	    --data-binary @- -o /dev/null
