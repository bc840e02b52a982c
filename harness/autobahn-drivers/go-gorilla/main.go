// An Autobahn|Testsuite client driver for gorilla/websocket: ask the fuzzing
// server for the case count, run every case (echo each message back, with
// its type, until the server closes), then ask it to write the reports.
//
// The only change from a driver aimed at Autobahn is where the server
// address comes from: wsreplay's tests set WSREPLAY_AUTOBAHN_URL; left unset
// it is Autobahn's usual address.
package main

import (
	"fmt"
	"log"
	"net/url"
	"os"
	"runtime/debug"
	"strconv"

	"github.com/gorilla/websocket"
)

const module = "github.com/gorilla/websocket"

var server = envOr("WSREPLAY_AUTOBAHN_URL", "ws://127.0.0.1:9001")

func envOr(name, fallback string) string {
	if value := os.Getenv(name); value != "" {
		return value
	}
	return fallback
}

// agentName is "gorilla-websocket-" plus the library version built in.
func agentName() string {
	version := "unknown"
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == module {
				version = dep.Version
			}
		}
	}
	return envOr("WSREPLAY_AUTOBAHN_AGENT", "gorilla-websocket-"+version)
}

func getCaseCount() (int, error) {
	c, _, err := websocket.DefaultDialer.Dial(server+"/getCaseCount", nil)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_, p, err := c.ReadMessage()
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(string(p))
}

func runCase(agent string, n int) error {
	u := fmt.Sprintf("%s/runCase?case=%d&agent=%s", server, n, url.QueryEscape(agent))
	c, _, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	for {
		mt, p, err := c.ReadMessage()
		if err != nil {
			if websocket.IsCloseError(err, websocket.CloseNormalClosure) {
				return nil
			}
			return err
		}
		if err := c.WriteMessage(mt, p); err != nil {
			return err
		}
	}
}

func updateReports(agent string) error {
	u := fmt.Sprintf("%s/updateReports?agent=%s", server, url.QueryEscape(agent))
	c, _, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	for {
		if _, _, err := c.NextReader(); err != nil {
			return nil
		}
	}
}

func main() {
	agent := agentName()
	count, err := getCaseCount()
	if err != nil {
		log.Fatalf("getCaseCount: %v", err)
	}
	for n := 1; n <= count; n++ {
		if err := runCase(agent, n); err != nil {
			fmt.Printf("case %d / %d: %v\n", n, count, err)
		} else {
			fmt.Printf("case %d / %d: OK\n", n, count)
		}
	}
	if err := updateReports(agent); err != nil {
		log.Fatalf("updateReports: %v", err)
	}
	fmt.Printf("Ran %d test cases; reports updated\n", count)
}
