// Command dog is the operator's CLI of Port Traffic Dog.
package main

import (
	"os"

	"port-traffic-dog/cli"
)

func main() { os.Exit(cli.Run()) }
