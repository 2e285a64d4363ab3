package chain

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/sirupsen/logrus"
)

// Call is one CNI invocation: the config, the runtime's CNI_* values and the clients they imply.
type Call struct {
	Conf        *Config
	ContainerID string
	Netns       string
	IfName      string
	Args        *podArgs
	Log         *logrus.Entry

	agent   *Agent
	store   attachmentStore
	adopted bool // set by adoption: the attachment predates our conflist
	queue   deletionQueue
}

// NewCall validates the runtime's values. cniArgs is CNI_ARGS as given.
func NewCall(conf *Config, containerID, netns, ifname, cniArgs string, log *logrus.Entry) (*Call, error) {
	args, err := parseCNIArgs(cniArgs)
	if err != nil {
		return nil, err
	}
	args.withPodIdentity(conf.ArgsPodName, conf.ArgsNamespace)
	c := &Call{
		Conf: conf, ContainerID: containerID, Netns: netns, IfName: ifname, Args: args, Log: log,
		agent: NewAgent(conf.SocketPath),
		store: newAttachmentStore(conf.StateDir, conf.Name),
		queue: deletionQueue{dir: conf.DeleteQueueDir},
	}
	return c, nil
}

// validAttachment checks what becomes a file name and an endpoint ID.
func validAttachment(containerID, ifname string) error {
	if !safeName.MatchString(containerID) {
		return fmt.Errorf("%w: CNI_CONTAINERID %q is not a valid container ID", ErrInvalidEnv, containerID)
	}
	// libcni's ValidateInterfaceName (the kernel's dev_valid_name): at most 15 bytes, not "." or "..",
	// no '/', ':' or white space of any kind (unicode.IsSpace).
	if ifname == "" || len(ifname) > 15 || ifname == "." || ifname == ".." || strings.ContainsAny(ifname, "/:") || strings.ContainsFunc(ifname, unicode.IsSpace) {
		return fmt.Errorf("%w: CNI_IFNAME %q is not a valid interface name", ErrInvalidEnv, ifname)
	}
	return nil
}

func (c *Call) endpointID() string { return endpointID(c.ContainerID, c.IfName) }
