// Command cilium-chain is a chained CNI plugin that registers the pod veth made by the primary plugin
// (Flannel, bridge, ptp, aws-vpc-cni…) as a Cilium endpoint, for Cilium's generic-veth chaining mode.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/version"

	"github.com/cilium-chain/cilium-chain/chain"
)

// Version is set at build time (-X main.Version=…).
var Version = "dev"

func main() {
	if len(os.Args) == 2 && (os.Args[1] == "--version" || os.Args[1] == "-version") {
		fmt.Println("cilium-chain " + Version)
		return
	}
	// 0.1/0.2 cannot chain (no prevResult), so they are not offered.
	supportedVersions := versionInfo{version.PluginSupports("0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")}
	skel.PluginMainFuncs(skel.CNIFuncs{
		Add:    runVerb("ADD"),
		Del:    runVerb("DEL"),
		Check:  runVerb("CHECK"),
		GC:     runVerb("GC"),
		Status: runVerb("STATUS"),
	}, supportedVersions, "cilium-chain "+Version+": chained CNI plugin for Cilium generic-veth")
}

// versionInfo is the VERSION reply with the plugin's own version added ("pluginVersion"), so a
// node's operator can ask the installed binary what it is.
type versionInfo struct{ version.PluginInfo }

func (v versionInfo) Encode(w io.Writer) error {
	return json.NewEncoder(w).Encode(map[string]any{
		"cniVersion": version.Current(), "supportedVersions": v.SupportedVersions(), "pluginVersion": Version,
	})
}

// runVerb loads the config, runs the verb in chain/ and prints its result. Only this package prints.
func runVerb(verb string) func(*skel.CmdArgs) error {
	return func(args *skel.CmdArgs) error {
		load := chain.LoadConfig // ADD and CHECK: an unknown key is a typo to report
		if verb == "DEL" || verb == "GC" || verb == "STATUS" {
			load = chain.LoadConfigLenient // never block a teardown on a key this binary does not know
		}
		conf, err := load(args.StdinData, os.Getenv)
		log, closeLog := newLogger(conf, verb, args, os.Stderr)
		defer closeLog()
		if err != nil {
			log.WithError(err).Error("rejecting configuration")
			return cniError(err)
		}
		for _, k := range conf.Unknown {
			log.WithField("key", k).Warn("ignoring unknown configuration key")
		}
		for _, k := range conf.Ignored {
			log.WithField("key", k).Debug("ignoring upstream key without meaning here")
		}
		call, err := chain.NewCall(conf, args.ContainerID, args.Netns, args.IfName, args.Args, log)
		if err != nil {
			log.WithError(err).Error(verb + " failed")
			return cniError(err)
		}

		ctx := context.Background()
		var result types.Result
		switch verb {
		case "ADD":
			var res types.Result
			if res, err = call.Add(ctx); err == nil {
				result = res
			}
		case "DEL":
			err = call.Del(ctx)
		case "CHECK":
			err = call.Check(ctx)
		case "GC":
			err = call.GC(ctx)
		case "STATUS":
			err = call.Status(ctx)
		}
		if err != nil {
			log.WithError(err).Error(verb + " failed")
			return cniError(err)
		}
		if result != nil {
			return types.PrintResult(result, conf.CNIVersion)
		}
		return nil
	}
}
