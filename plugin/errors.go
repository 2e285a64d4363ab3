package main

import (
	"errors"
	"strings"

	"github.com/containernetworking/cni/pkg/types"

	"github.com/cilium-chain/cilium-chain/chain"
)

// CNI error codes of cilium-chain. 1–99 are the spec's; 100+ are ours (documented in the README).
const (
	CodePluginNotAvailable uint = 50 // spec: STATUS, the plugin cannot serve ADDs now

	CodeAgentRejected     uint = 100 // the agent refused the endpoint (4xx)
	CodeEndpointUnhealthy uint = 101 // CHECK: the endpoint is in a failed state
	CodeInterfaceMismatch uint = 102 // prevResult and the kernel (or the agent) disagree
	CodePeerNotFound      uint = 103 // the pod interface is not a veth or its host peer is missing
	CodeAgentFailed       uint = 104 // the agent failed the request (5xx, unexpected answer)
	CodeEndpointNotFound  uint = 105 // CHECK: the agent has no endpoint for the attachment
	CodeDeleteFailed      uint = 106 // DEL did not delete the endpoint; the runtime retries DEL
	CodeStateDir          uint = 107 // the state dir cannot be written (disk full, read-only)
)

// codes maps chain's error kinds to CNI codes, most specific first (a DEL failure wraps the agent
// error that caused it). This is the only such table.
var codes = []struct {
	kind error
	code uint
	msg  string
}{
	{chain.ErrDeleteFailed, CodeDeleteFailed, "endpoint deletion failed"},
	{chain.ErrStateDir, CodeStateDir, "state dir not writable"},
	{chain.ErrDecode, types.ErrDecodingFailure, "cannot decode network configuration"},
	{chain.ErrInvalidConfig, types.ErrInvalidNetworkConfig, "invalid network configuration"},
	{chain.ErrInvalidEnv, types.ErrInvalidEnvironmentVariables, "invalid CNI environment"},
	{chain.ErrNotReady, CodePluginNotAvailable, "cilium agent not ready"},
	{chain.ErrAgentUnavailable, types.ErrTryAgainLater, "cilium agent unavailable, try again later"},
	{chain.ErrAgentRejected, CodeAgentRejected, "cilium agent rejected the request"},
	{chain.ErrEndpointUnhealthy, CodeEndpointUnhealthy, "endpoint unhealthy"},
	{chain.ErrInterfaceMismatch, CodeInterfaceMismatch, "interface does not match prevResult"},
	{chain.ErrPeerNotFound, CodePeerNotFound, "host veth peer not found"},
	{chain.ErrAgentFailed, CodeAgentFailed, "cilium agent failed the request"},
	{chain.ErrEndpointNotFound, CodeEndpointNotFound, "endpoint not found"},
}

// cniError turns any error into a *types.Error with the right code; the full chain of causes goes into
// details. An error without a kind is an internal failure (code 999, the spec's "other").
func cniError(err error) error {
	if err == nil {
		return nil
	}
	var already *types.Error
	if errors.As(err, &already) {
		return already
	}
	for _, c := range codes {
		if errors.Is(err, c.kind) {
			// The kind is already the message: keep only what follows it as details.
			return types.NewError(c.code, c.msg, strings.TrimPrefix(err.Error(), c.kind.Error()+": "))
		}
	}
	return types.NewError(types.ErrInternal, "internal error", err.Error())
}
