package enforcer

import "port-traffic-dog/enforcer/nft"

func nftConn(fd int) *nft.Conn { return nft.Open(fd) }
