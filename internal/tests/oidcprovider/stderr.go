package oidcprovider

import "os"

var stderr = os.Stderr
